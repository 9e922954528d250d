// @xmppkit/ping-muc: XEP-0410 self-pings that find the rooms that dropped you, and rejoin them. The gateway's
// module definition is in "@xmppkit/ping-muc/gateway".
export type { PingMucBusEvent } from "./events.js"; // and the bus events it declares

export { setupPingMuc, type PingMuc, type PingMucDeps, type PingMucEvents, type PingMucOptions, type PingTrigger, type SelfPingResult } from "./ping-muc.js";
export { NS_SELF_PING_OPTIMIZATION, classifySelfPing, ghostReason, selfPing, type PingOutcome, type SelfPingTarget, type Verdict } from "./self-ping.js";
export { ghostPresence } from "./ghost-presence.js";
