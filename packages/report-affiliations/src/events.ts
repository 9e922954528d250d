// The events this package puts on the xmppkit event bus (audit-geoip records them).
import type { ReportAffiliationsEvents } from "./affiliations.js";

declare module "@xmppkit/core" {
  interface XmppkitEvents {
    /** A XEP-0489 query was answered, refused (forbidden) or failed (source unavailable). */
    "affiliation-queried": ReportAffiliationsEvents["queried"];
  }
}

/** The names of the events this package puts on the bus. */
export type ReportAffiliationsBusEvent = "affiliation-queried";
