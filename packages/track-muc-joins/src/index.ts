// @xmppkit/track-muc-joins: which MUC rooms each JID is in, join/leave that wait for the room, rooms kept
// joined. The gateway's module definition is in "@xmppkit/track-muc-joins/gateway".
export type { TrackMucJoinsBusEvent } from "./events.js"; // and the bus events it declares

export {
  setupMucJoins,
  type Joined,
  type JoinOptions,
  type KeepOptions,
  type KeptRoom,
  type LeaveOptions,
  type MucJoins,
  type MucJoinsDeps,
  type MucJoinsEvents,
  type MucJoinsOptions,
} from "./muc-joins.js";
export {
  MucJoinError,
  MucTimeoutError,
  PERMANENT_JOIN_CONDITIONS,
  NS_MUC_OWNER,
  instantRoomForm,
  joinPresence,
  type HistoryOptions,
  type JoinPresenceOptions,
} from "./join-room.js";
export {
  JoinTracker,
  NS_MUC,
  NS_MUC_USER,
  mucStatusCodes,
  type JoinState,
  type LeaveKind,
  type LeaveReason,
  type RoomJoin,
  type TrackerEvent,
  type TrackerOptions,
} from "./join-tracker.js";
