// @xmppkit/report-forward/gateway: the module definition the xmppkit gateway loads (`modules_enabled:
// [report-forward]`). Its option schema is zod, through @xmppkit/runtime; a bot never imports this entry.
export { gatewayModule, gatewayModule as default } from "./gateway-module.js";
export { reportForwardOptions, reportForwardSchema, type ReportForwardGatewayOptions } from "./options.js";
