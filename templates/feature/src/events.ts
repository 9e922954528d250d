// The events this package puts on the xmppkit event bus (for audit-geoip, metrics, your own listeners).
import type { __Name__Events } from "./__name__.js";

declare module "@xmppkit/core" {
  interface XmppkitEvents {
    /** A XEP-0092 version query was answered. */
    "__name__-answered": __Name__Events["answered"];
  }
}

/** The names of the events this package puts on the bus. */
export type __Name__BusEvent = "__name__-answered";
