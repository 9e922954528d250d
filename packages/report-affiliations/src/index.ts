// @xmppkit/report-affiliations: XEP-0489 (Reporting Account Affiliations) for servers and bots: answer
// queries through XEP-0355 delegation, stamp <info/>, ask other servers. The gateway's module definition is in
// "@xmppkit/report-affiliations/gateway".
export type { ReportAffiliationsBusEvent } from "./events.js"; // and the bus events it declares

export {
  queryAffiliation,
  setupReportAffiliations,
  type QueryOutcome,
  type ReportAffiliations,
  type ReportAffiliationsDeps,
  type ReportAffiliationsEvents,
  type ReportAffiliationsOptions,
  type TrustedInfo,
} from "./affiliations.js";
export {
  NS_ACCOUNT_INFO,
  accountCreation,
  queryAccountCreated,
  supportsAccountInfo,
  type AccountCreation,
  type AccountCreationOptions,
} from "./account-info.js";
export {
  AffiliationSourceError,
  PROSODY_ROLES,
  affiliationFromRoles,
  chainSources,
  httpSource,
  resolveInfo,
  staticSource,
  type AccountRecord,
  type AffiliationSource,
  type HttpSourceOptions,
  type ResolveOptions,
  type RoleMap,
} from "./affiliation-source.js";
export {
  AFFILIATIONS,
  EMBED_FEATURES,
  InfoParseError,
  NS_RAA,
  infoElement,
  isAffiliation,
  parseInfo,
  type Affiliation,
  type AffiliationInfo,
  type EmbedKind,
} from "./info.js";
