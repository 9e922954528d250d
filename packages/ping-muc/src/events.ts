// The events this package puts on the xmppkit event bus (for audit-geoip, metrics, your own listeners).
import type { PingMucEvents } from "./ping-muc.js";

declare module "@xmppkit/core" {
  interface XmppkitEvents {
    /** A MUC self-ping came back (or timed out), with its verdict. */
    "muc-self-ping": PingMucEvents["self-ping"];
    /** A room no longer counted a local JID in: a ghost, now told and (with rejoin) rejoining. */
    "muc-ghost-detected": PingMucEvents["ghost"];
  }
}

/** The names of the events this package puts on the bus. */
export type PingMucBusEvent = "muc-self-ping" | "muc-ghost-detected";
