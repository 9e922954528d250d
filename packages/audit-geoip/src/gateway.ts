// @xmppkit/audit-geoip/gateway: the module definition the xmppkit gateway loads (`modules_enabled:
// [audit-geoip]`), with its `audit` command. Its option schema is zod, through @xmppkit/runtime.
export { gatewayModule, gatewayModule as default } from "./gateway-module.js";
export { AUDIT_HELP, auditCommand } from "./audit-command.js";
export { auditGeoipOptions, auditGeoipSchema, type AuditGeoipGatewayOptions } from "./options.js";
