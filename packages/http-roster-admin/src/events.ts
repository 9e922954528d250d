// The events this package puts on the xmppkit event bus (for audit-geoip, metrics, your own listeners).
import type { RosterAdminEvents, SyncResult } from "./roster-admin.js";

declare module "@xmppkit/core" {
  interface XmppkitEvents {
    /** A user's roster now matches the web application's (counts of what changed). */
    "roster-synced": SyncResult;
    /** A user's sync failed; their roster was left as it was. */
    "roster-sync-failed": RosterAdminEvents["sync-failed"];
    /** Someone called the refresh API (IP after the gateway's trusted-proxy rule). */
    "refresh-requested": { ip: string; method: string; path: string; users: string[] };
  }
}

/** The names of the events this package puts on the bus. */
export type RosterAdminBusEvent = "roster-synced" | "roster-sync-failed" | "refresh-requested";
