// Reading the audit log: filters as SQL (`where()`), pages newest first with a keyset cursor (time, then id,
// so events of one millisecond are neither lost nor repeated), and the summary the page and CLI show.
import { XmppkitError } from "@xmppkit/core";
import type { Store } from "@xmppkit/core";
import type { AuditEvent } from "./audit-event.js";
import { AUDIT_COLUMNS, AUDIT_TABLE, fromRow, type AuditRow } from "./audit-schema.js";
import { normalizeIp } from "./ip.js";

const DAY_MS = 86_400_000;

export interface AuditFilter {
  /** A bare JID (every session of the account) or a full JID (one session). */
  user?: string | undefined;
  /** One type or several. */
  type?: string | string[] | undefined;
  module?: string | undefined;
  /** ISO 3166-1 alpha-2. */
  country?: string | undefined;
  ip?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
}

export interface AuditQuery extends AuditFilter {
  /** Page size (default 100, at most 1000). */
  limit?: number | undefined;
  /** `next` of the previous page. */
  cursor?: string | undefined;
}

export interface AuditPage {
  /** Newest first. */
  events: AuditEvent[];
  /** Pass as `cursor` for the next (older) page; absent on the last page. */
  next?: string;
}

export interface AuditSummary {
  total: number;
  /** Events per UTC day ("2026-11-21"), oldest first. */
  perDay: { day: string; count: number }[];
  /** Events per country, most first; events without a location are left out. */
  perCountry: { country: string; name: string; count: number }[];
  /** Events per type, most first. */
  perType: { type: string; count: number }[];
}

export class AuditQueryError extends XmppkitError {
  static override readonly brand = "AuditQueryError";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** A filter's conditions (to be joined with AND) and their parameters. */
export function where(filter: AuditFilter): { sql: string[]; params: unknown[] } {
  const sql: string[] = [];
  const params: unknown[] = [];
  const add = (condition: string, ...values: unknown[]) => {
    sql.push(condition);
    params.push(...values);
  };
  if (filter.user) {
    const slash = filter.user.indexOf("/");
    add("user_jid = ?", (slash < 0 ? filter.user : filter.user.slice(0, slash)).toLowerCase());
    if (slash >= 0) add("resource = ?", filter.user.slice(slash + 1));
  }
  const types = (Array.isArray(filter.type) ? filter.type : filter.type ? [filter.type] : []).filter(Boolean);
  if (types.length) add(`type IN (${types.map(() => "?").join(", ")})`, ...types);
  if (filter.module) add("module = ?", filter.module);
  if (filter.country) add("country_code = ?", filter.country.toUpperCase());
  if (filter.ip) add("ip = ?", normalizeIp(filter.ip) ?? filter.ip);
  if (filter.since) add("time_ms >= ?", filter.since.getTime());
  if (filter.until) add("time_ms < ?", filter.until.getTime());
  return { sql, params };
}

export const whereClause = (sql: string[]) => (sql.length ? ` WHERE ${sql.join(" AND ")}` : "");

/** One page of events, newest first; `next` when there are older ones. */
export async function queryPage(store: Store, q: AuditQuery = {}): Promise<AuditPage> {
  const limit = q.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new AuditQueryError("limit", "expected a whole number from 1 to 1000");
  const { sql, params } = where(q);
  if (q.cursor) {
    const c = decodeCursor(q.cursor);
    sql.push("(time_ms < ? OR (time_ms = ? AND id < ?))");
    params.push(c.time, c.time, c.id);
  }
  const rows = await store.query<AuditRow>(`SELECT ${AUDIT_COLUMNS.join(", ")} FROM ${AUDIT_TABLE}${whereClause(sql)} ORDER BY time_ms DESC, id DESC LIMIT ?`, [
    ...params,
    limit + 1,
  ]);
  const events = rows.slice(0, limit).map(fromRow);
  const last = events.at(-1);
  return rows.length > limit && last ? { events, next: encodeCursor(last.time.getTime(), last.id) } : { events };
}

/** Counts per UTC day, per country and per type of the events a filter selects. */
export async function summarise(store: Store, filter: AuditFilter = {}): Promise<AuditSummary> {
  const { sql, params } = where(filter);
  const w = whereClause(sql);
  const [days, countries, types] = await Promise.all([
    store.query<{ day: number | string; n: number | string }>(
      `SELECT time_ms / ${DAY_MS} AS day, COUNT(*) AS n FROM ${AUDIT_TABLE}${w} GROUP BY time_ms / ${DAY_MS} ORDER BY day`,
      params,
    ),
    store.query<{ country_code: string; country_name: string | null; n: number | string }>(
      `SELECT country_code, MAX(country_name) AS country_name, COUNT(*) AS n FROM ${AUDIT_TABLE}${w}${sql.length ? " AND" : " WHERE"} country_code IS NOT NULL GROUP BY country_code ORDER BY n DESC, country_code`,
      params,
    ),
    store.query<{ type: string; n: number | string }>(`SELECT type, COUNT(*) AS n FROM ${AUDIT_TABLE}${w} GROUP BY type ORDER BY n DESC, type`, params),
  ]);
  const perDay = days.map((d) => ({ day: new Date(Number(d.day) * DAY_MS).toISOString().slice(0, 10), count: Number(d.n) }));
  return {
    total: perDay.reduce((a, d) => a + d.count, 0),
    perDay,
    perCountry: countries.map((c) => ({ country: c.country_code, name: c.country_name ?? c.country_code, count: Number(c.n) })),
    perType: types.map((t) => ({ type: t.type, count: Number(t.n) })),
  };
}

export function encodeCursor(time: number, id: string): string {
  return Buffer.from(`${time}:${id}`).toString("base64url");
}

export function decodeCursor(cursor: string): { time: number; id: string } {
  const m = /^(\d{1,16}):([0-9a-f-]{36})$/.exec(Buffer.from(cursor, "base64url").toString());
  if (!m) throw new AuditQueryError("cursor", "not a cursor from a previous page (use the `next` value as it is)");
  return { time: Number(m[1]), id: m[2]! };
}
