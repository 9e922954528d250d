// @xmppkit/__name__/gateway: the module definition the xmppkit gateway loads (`modules_enabled: [__name__]`).
// Its option schema is zod, through @xmppkit/runtime; a bot never imports this entry.
export { gatewayModule, gatewayModule as default } from "./gateway-module.js";
export { __camel__Options, __camel__Schema, type __Name__GatewayOptions } from "./options.js";
