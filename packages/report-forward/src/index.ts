// @xmppkit/report-forward: XEP-0377 spam and abuse reports, filed by a bot (fileReport) or forwarded by a
// desk to staff, third parties and the reported server's XEP-0157 address. The gateway's module definition is
// in "@xmppkit/report-forward/gateway".
export type { ReportForwardBusEvent } from "./events.js"; // and the bus events it declares

export {
  setupReportForward,
  type Destination,
  type IntakeVia,
  type RejectReason,
  type ReportForward,
  type ReportForwardDeps,
  type ReportForwardEvents,
  type ReportForwardOptions,
  type ReportSource,
  type ReportSummary,
  type StaffRoomJoins,
  type SubmitResult,
  type Withheld,
} from "./report-forward.js";
export { NS_REPORT_HANDOVER, parseHandover } from "./server-handover.js";
export { LIMIT_DEFAULTS, DIGEST_DEFAULTS, type DigestOptions, type LimitOptions } from "./report-limits.js";
export { memoryReportWindows, sqlReportWindows, type ReportWindows, type WindowCheck } from "./report-windows.js";
export { NS_BLOCKING, blockWithReports, fileReport, reportElement, type ReportSpec } from "./block-report.js";
export {
  NS_JID,
  NS_REPORTING,
  NS_REPORTING_LEGACY,
  NS_SID,
  REASON_ABUSE,
  REASON_SPAM,
  ReportParseError,
  findReport,
  parseReport,
  type ParsedReport,
  type ReportReason,
  type StanzaIdRef,
} from "./report.js";
export { BadReportBody, parseHttpReport, registerReportRoutes, type ReportRoutesOptions } from "./http-report.js";
export { DEFAULT_BODY_TEMPLATE, DEFAULT_STAFF_BODY_TEMPLATE, renderTemplate, type TemplateVars } from "./body-template.js";
export { REPORT_ADDRESS_FIELDS, SERVERINFO_FORM_TYPE, reportAddress } from "./contact-addresses.js";
export { createContactLookup, type ContactAddress, type ContactLookup, type ContactLookupOptions } from "./contact-lookup.js";
export { memoryOutboxStore, sqlOutboxStore, type OutboxEntry, type OutboxStore } from "./outbox.js";
export type { AcceptedReport, Audience } from "./forward-message.js";
