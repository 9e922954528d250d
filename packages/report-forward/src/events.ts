// The events this package puts on the xmppkit event bus (audit-geoip records them).
import type { ReportForwardEvents } from "./report-forward.js";

declare module "@xmppkit/core" {
  interface XmppkitEvents {
    /** A report was taken in (handed over by the server, from its message, HTTP or code). */
    "report-received": ReportForwardEvents["received"];
    /** A report went out; one entry per destination, with whether sending worked. */
    "report-forwarded": ReportForwardEvents["forwarded"];
    /** A report was refused (unlisted source, malformed, too large) or not forwarded again (duplicate). */
    "report-rejected": ReportForwardEvents["rejected"];
  }
}

/** The names of the events this package puts on the bus. */
export type ReportForwardBusEvent = "report-received" | "report-forwarded" | "report-rejected";
