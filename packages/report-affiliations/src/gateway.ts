// @xmppkit/report-affiliations/gateway: the module definition the xmppkit gateway loads (`modules_enabled:
// [report-affiliations]`). Its option schema is zod, through @xmppkit/runtime; a bot never imports this entry.
export { gatewayModule, gatewayModule as default } from "./gateway-module.js";
export { reportAffiliationsOptions, reportAffiliationsSchema, type ReportAffiliationsGatewayOptions } from "./options.js";
