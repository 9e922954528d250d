// @xmppkit/http-roster-admin/gateway: the module definition the xmppkit gateway loads (`modules_enabled:
// [http-roster-admin]`). Its option schema is zod, through @xmppkit/runtime; a bot never imports this entry.
export { gatewayModule, gatewayModule as default } from "./gateway-module.js";
export { rosterAdminOptions, rosterAdminSchema, type RosterAdminGatewayOptions } from "./options.js";
