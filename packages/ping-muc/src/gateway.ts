// @xmppkit/ping-muc/gateway: the module definition the xmppkit gateway loads (`modules_enabled:
// [track-muc-joins, ping-muc]`). Its option schema is zod, through @xmppkit/runtime; a bot never imports this entry.
export { gatewayModule, gatewayModule as default } from "./gateway-module.js";
export { pingMucOptions, pingMucSchema, type PingMucGatewayOptions } from "./options.js";
