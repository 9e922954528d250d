// The events this package puts on the xmppkit event bus (for audit-geoip, metrics, your own listeners).
import type { MucJoinsEvents } from "./muc-joins.js";

declare module "@xmppkit/core" {
  interface XmppkitEvents {
    /** A local JID entered a room (the room's self-presence arrived). */
    "muc-joined": MucJoinsEvents["joined"];
    /** A local JID is no longer in a room, with why (left, kicked, banned, destroyed, stream-ended, …). */
    "muc-left": MucJoinsEvents["left"];
    /** The room refused a join. */
    "muc-join-failed": MucJoinsEvents["join-failed"];
  }
}

/** The names of the events this package puts on the bus. */
export type TrackMucJoinsBusEvent = "muc-joined" | "muc-left" | "muc-join-failed";
