// @xmppkit/track-muc-joins/gateway: the module definition the xmppkit gateway loads (`modules_enabled:
// [track-muc-joins]`). Its option schema is zod, through @xmppkit/runtime; a bot never imports this entry.
export { gatewayModule, gatewayModule as default } from "./gateway-module.js";
export {
  mucJoinsOptions,
  mucJoinsSchema,
  trackMucJoinsOptions,
  trackMucJoinsSchema,
  type MucJoinsGatewayOptions,
  type TrackMucJoinsGatewayOptions,
} from "./options.js";
