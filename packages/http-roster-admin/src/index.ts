// @xmppkit/http-roster-admin: mirror a web application's contact lists into XMPP rosters (a component's
// users through XEP-0356 or ejabberd's API, a bot's own roster), with Prosody's HTTP refresh API. The
// gateway's module definition is in "@xmppkit/http-roster-admin/gateway".
export type { RosterAdminBusEvent } from "./events.js"; // and the bus events it declares

export {
  RosterSyncError,
  setupRosterAdmin,
  type AppliedChange,
  type RefreshResult,
  type RosterAdmin,
  type RosterAdminDeps,
  type RosterAdminEvents,
  type RosterAdminKit,
  type RosterAdminOptions,
  type SyncFailure,
  type SyncResult,
  type SyncTrigger,
} from "./roster-admin.js";
export {
  adaptToServer,
  logServerFinding,
  type RosterWriter,
  type ServerAdaptationDeps,
  type ServerAdaptationOptions,
  type ServerFinding,
} from "./server-adaptation.js";
export { ownRoster, privilegedRoster, type PrivilegedRosterOptions, type RosterAccess, type RosterBatching, type RosterChange } from "./roster-access.js";
export {
  NS_ROSTER_BATCH,
  rosterBatchElement,
  rosterBatchOutcomes,
  rosterReplaceElement,
  rosterReplaceResult,
  rosterVersion,
  rosterVersionElement,
  supportsRosterBatch,
  type RosterEdit,
  type RosterReplaceResult,
} from "./roster-batch.js";
export { EjabberdApiError, ejabberdApiRoster, type EjabberdApiOptions } from "./ejabberd-api.js";
export { BadRefreshBody, parseRefreshBody, registerRosterAdminRoutes, type RosterAdminRoutesOptions } from "./http-api.js";
export {
  RosterFetchError,
  createRosterFetcher,
  type FetchFailure,
  type FetchedRoster,
  type FetcherOptions,
  type RosterFetcher,
  type SameRoster,
} from "./fetch-roster.js";
export { WebRosterError, parseWebRoster, type SkippedContact, type WebRoster } from "./roster-json.js";
export { canonicalRoster, memoryAppliedRosters, rosterFromCanonical, type AppliedRoster, type AppliedRosters } from "./applied-rosters.js";
export { APPLIED_MIGRATIONS, storeAppliedRosters, type StoredAppliedRosters } from "./store-applied-rosters.js";
export { diffRoster, type DiffOptions, type RosterDiff } from "./roster-diff.js";
