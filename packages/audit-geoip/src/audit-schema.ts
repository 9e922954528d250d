// The audit table: its migrations, its columns, and an event as a row of it (and back).
import type { Migration } from "@xmppkit/core";
import type { AuditEvent } from "./audit-event.js";

export const AUDIT_TABLE = "xmppkit_audit";

/** The table and its indexes; the dialects differ only in the integer type of the millisecond time. */
const auditTableSql = (timeType: "INTEGER" | "BIGINT") => `CREATE TABLE ${AUDIT_TABLE} (
  id TEXT PRIMARY KEY, time_ms ${timeType} NOT NULL, type TEXT NOT NULL, actor TEXT, user_jid TEXT, host TEXT NOT NULL,
  resource TEXT, ip TEXT, country_code TEXT, country_name TEXT, continent TEXT, module TEXT NOT NULL, details TEXT, note TEXT);
CREATE INDEX ${AUDIT_TABLE}_time ON ${AUDIT_TABLE} (time_ms, id);
CREATE INDEX ${AUDIT_TABLE}_user ON ${AUDIT_TABLE} (user_jid, time_ms);
CREATE INDEX ${AUDIT_TABLE}_type ON ${AUDIT_TABLE} (type, time_ms);
CREATE INDEX ${AUDIT_TABLE}_country ON ${AUDIT_TABLE} (country_code, time_ms);`;

export const AUDIT_MIGRATIONS: Migration[] = [
  { version: 1, name: "audit events", sql: { sqlite: auditTableSql("INTEGER"), postgres: auditTableSql("BIGINT") } },
];

/** The audit table's columns, in the order rows are written. */
export const AUDIT_COLUMNS = [
  "id",
  "time_ms",
  "type",
  "actor",
  "user_jid",
  "host",
  "resource",
  "ip",
  "country_code",
  "country_name",
  "continent",
  "module",
  "details",
  "note",
];

export type AuditRow = Record<(typeof AUDIT_COLUMNS)[number], unknown>;

/** An event's row, in the order of AUDIT_COLUMNS. */
export function toRow(e: AuditEvent): unknown[] {
  return [
    e.id,
    e.time.getTime(),
    e.type,
    e.actor ?? null,
    e.user ?? null,
    e.host,
    e.resource ?? null,
    e.ip ?? null,
    e.location?.countryCode ?? null,
    e.location?.countryName ?? null,
    e.location?.continent ?? null,
    e.module,
    e.details ? JSON.stringify(e.details) : null,
    e.note ?? null,
  ];
}

/** The event a row holds (details that do not parse are kept as text under `unparsed`). */
export function fromRow(r: AuditRow): AuditEvent {
  const e: AuditEvent = { id: String(r.id), time: new Date(Number(r.time_ms)), type: String(r.type), host: String(r.host), module: String(r.module) };
  if (r.actor != null) e.actor = String(r.actor);
  if (r.user_jid != null) e.user = String(r.user_jid);
  if (r.resource != null) e.resource = String(r.resource);
  if (r.ip != null) e.ip = String(r.ip);
  if (r.country_code != null) {
    e.location = { countryCode: String(r.country_code), countryName: String(r.country_name ?? r.country_code) };
    if (r.continent != null) e.location.continent = String(r.continent);
  }
  if (r.details != null) {
    try {
      e.details = JSON.parse(String(r.details)) as Record<string, unknown>;
    } catch {
      e.details = { unparsed: String(r.details) };
    }
  }
  if (r.note != null) e.note = String(r.note);
  return e;
}
