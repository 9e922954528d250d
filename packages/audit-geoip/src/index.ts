// @xmppkit/audit-geoip: an audit log of what the gateway and its modules did, with the country of HTTP
// callers, in SQLite or PostgreSQL; GET /audit, a page, and prosodyctl mod_audit's table. The gateway's
// module definition (and its `audit` command) is in "@xmppkit/audit-geoip/gateway".
export { setupAuditGeoip, type AuditGeoip, type AuditGeoipOptions } from "./audit-geoip.js";
export {
  AUDIT_COLUMNS,
  AUDIT_MIGRATIONS,
  AUDIT_TABLE,
  AuditQueryError,
  eventId,
  openAuditLog,
  type AuditFilter,
  type AuditLog,
  type AuditLogOptions,
  type AuditPage,
  type AuditQuery,
  type AuditSummary,
} from "./audit-log.js";
export type { AuditEvent, AuditEventInput } from "./audit-event.js";
export { parseAuditQuery, parseWhen, type AuditQueryText } from "./audit-filter.js";
export { eventJson, formatAuditTable, type TableOptions } from "./audit-table.js";
export { DEFAULT_HTTP_EXCLUDE, EVENT_MAPPERS, auditInputOf, recordBusEvents, type RecordBusEventsOptions } from "./bus-events.js";
export type { AuditGeoipBusEvent } from "./events.js"; // none: it reads the bus
export { registerAuditRoutes, type AuditHttpOptions } from "./audit-http.js";
export { countryName, defaultDatabasePath, openGeoIp, type GeoIp, type Location } from "./geoip.js";
export { isLocatable, normalizeIp, truncateIp } from "./ip.js";
export { trackRunStatus, type RunStatus, type RunStatusOptions } from "./run-status.js";
