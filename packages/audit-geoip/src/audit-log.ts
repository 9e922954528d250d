// The audit log: events in the core store (SQLite by default, PostgreSQL by URL), written in batches off the
// caller's path, read back newest first with filters and keyset pagination, pruned by age and row count.
//
// `record()` never blocks: it builds the event (IP normalised, cut to a prefix, located) synchronously and
// queues it; the returned promise resolves once its row is committed (SQLite WAL with synchronous=FULL,
// or a PostgreSQL commit), so whatever was acknowledged survives a crash.
import { randomFillSync } from "node:crypto";
import { createBatchWriter, QueueFullError, type BatchWriter, type Logger, type Migration, type Store } from "@xmppkit/core";
import { cleanDetails, cleanText, type AuditEvent, type AuditEventInput } from "./audit-event.js";
import type { GeoIp } from "./geoip.js";
import { normalizeIp, truncateIp } from "./ip.js";

export const AUDIT_TABLE = "xmppkit_audit";
const DAY_MS = 86_400_000;

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

export interface AuditLogOptions {
  /** The host of events that name none (the gateway's component domain, or the server domain). */
  host: string;
  /** Store remote IPs (`audit_log_ips`, default true). Location needs the IP, so off means no location. */
  ips?: boolean;
  /** Keep only this many leading bits of IPv4 / IPv6 addresses (`audit_log_ipv4_prefix`, `audit_log_ipv6_prefix`). */
  ipv4Prefix?: number | undefined;
  ipv6Prefix?: number | undefined;
  /** Events older than this are purged (`audit_log_expires_after`, default 28 days; null: never). */
  expiresAfterMs?: number | null;
  /** At most this many events are kept, oldest purged first (default 1,000,000; null: no limit). */
  maxRows?: number | null;
  /** Batching (defaults: 500 rows or 200 ms, whichever comes first). */
  batch?: { maxRows?: number; maxDelayMs?: number };
  /** Most events held in memory while the database is unreachable (default 100 000); more are dropped and counted. */
  maxQueued?: number;
}

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

export interface AuditLog {
  /** Queue an event; resolves with it once committed. Never throws synchronously for a producer's payload. */
  record(input: AuditEventInput): Promise<AuditEvent>;
  query(query?: AuditQuery): Promise<AuditPage>;
  summary(filter?: AuditFilter): Promise<AuditSummary>;
  /** Delete expired events, then the oldest beyond the row limit. */
  purge(now?: Date): Promise<{ expired: number; overQuota: number }>;
  /** Write everything queued now. */
  flush(): Promise<void>;
  /** Flush and stop taking events (the store stays open: it is the caller's). */
  close(): Promise<void>;
  /** Events queued and not yet committed. */
  readonly queued: number;
  /** Events dropped because the database was unreachable and the queue full. */
  readonly dropped: number;
}

export class AuditQueryError extends Error {
  override name = "AuditQueryError";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

type Row = Record<(typeof AUDIT_COLUMNS)[number], unknown>;

/** Apply the audit log's migrations and return it. */
export async function openAuditLog(
  deps: { store: Store; geoip?: GeoIp | undefined; logger?: Logger | undefined; onDrop?: (() => void) | undefined },
  options: AuditLogOptions,
): Promise<AuditLog> {
  const { store, geoip, logger } = deps;
  await store.migrate("audit-geoip", AUDIT_MIGRATIONS);
  const keepIps = options.ips ?? true;
  const prefix = { ipv4: options.ipv4Prefix, ipv6: options.ipv6Prefix };
  const expiresAfter = options.expiresAfterMs === undefined ? 28 * DAY_MS : options.expiresAfterMs;
  const maxRows = options.maxRows === undefined ? 1_000_000 : options.maxRows;

  // Events are recorded in batches of up to `batch.maxRows`, sealed when full or `batch.maxDelayMs` after
  // their first event, and each sealed batch is one entry (one transaction) of core's batch writer, which
  // keeps failed batches in order and retries them with backoff. The events of a batch share one promise:
  // a queued event costs the event and one `then`, not a promise, its resolvers and a queue entry of its
  // own, and its row is made when its batch is written (the event is handed to no one before that, so the
  // row is the event as recorded). With 100k events queued, garbage collection was a fifth of the time.
  interface Batch {
    events: AuditEvent[];
    done: Promise<void>;
    resolve(): void;
    reject(err: unknown): void;
  }
  const batchRows = Math.max(1, options.batch?.maxRows ?? 500);
  const batchDelay = options.batch?.maxDelayMs ?? 200;
  const maxQueued = options.maxQueued ?? 100_000;
  let open: Batch | undefined;
  let timer: NodeJS.Timeout | undefined;
  let queued = 0; // recorded, not yet committed (nor given up at close)
  let dropped = 0;
  let closed = false;
  let writing = 0; // rows of the batch being written, for the error log

  // An outage of the database is said once when it starts and once when it ends, not at every retry.
  let outage: { since: number; droppedBefore: number } | undefined;
  const writer: BatchWriter<Batch> = createBatchWriter<Batch>({
    write: async (batches) => {
      const rows: unknown[][] = [];
      for (const batch of batches) for (const e of batch.events) rows.push(toRow(e));
      writing = rows.length;
      await store.insertMany(AUDIT_TABLE, AUDIT_COLUMNS, rows);
      queued -= rows.length;
      if (outage) {
        const lost = dropped - outage.droppedBefore;
        logger?.info(
          { downMs: Date.now() - outage.since, dropped: lost },
          lost ? `audit writes work again; ${lost} events were dropped while the database was unreachable` : "audit writes work again; nothing was lost",
        );
        outage = undefined;
      }
    },
    maxRows: 1, // an entry is a whole batch: written as soon as it is sealed
    maxDelayMs: batchDelay,
    maxQueued: Number.POSITIVE_INFINITY, // bounded here, in events
    onError: (err) => {
      if (outage) return;
      outage = { since: Date.now(), droppedBefore: dropped };
      logger?.error({ err, rows: writing, maxQueued }, "writing audit events failed; they are kept in memory (up to maxQueued) and retried");
    },
  });

  function seal(): void {
    clearTimeout(timer);
    timer = undefined;
    const batch = open;
    if (!batch) return;
    open = undefined;
    writer.push(batch).then(batch.resolve, (err: unknown) => {
      queued -= batch.events.length; // given up (a close that could not write them)
      batch.reject(err);
    });
  }

  function enqueue(event: AuditEvent): Promise<AuditEvent> {
    let batch = open;
    if (!batch) {
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      batch = open = { events: [], done, resolve, reject };
      timer = setTimeout(seal, batchDelay);
    }
    batch.events.push(event);
    queued++;
    const committed = batch.done.then(() => event);
    if (batch.events.length >= batchRows) seal();
    return committed;
  }

  function build(input: AuditEventInput): AuditEvent {
    const rawIp = keepIps ? normalizeIp(input.ip) : undefined;
    // Locate the full address, then store what the operator allows (a prefix locates the same country).
    const location = rawIp ? geoip?.locate(rawIp) : undefined;
    const ip = rawIp ? truncateIp(rawIp, prefix) : undefined;
    const now = Date.now();
    // A copy of the producer's Date: the stored time is the one given at record(), whatever it does later.
    const given = input.time instanceof Date ? input.time.getTime() : Number.NaN;
    const event: AuditEvent = {
      id: eventId(now),
      time: new Date(Number.isNaN(given) ? now : given),
      type: cleanText(input.type, 100) ?? "unknown",
      host: cleanText(input.host, 300) ?? options.host,
      module: cleanText(input.module, 100) ?? "unknown",
    };
    const actor = cleanText(input.actor, 3071);
    const user = cleanText(input.user, 3071)?.toLowerCase();
    const resource = cleanText(input.resource, 1023);
    const note = cleanText(input.note);
    if (actor) event.actor = actor;
    if (user) event.user = user;
    if (resource) event.resource = resource;
    if (ip) event.ip = ip;
    if (location) event.location = location;
    const details = cleanDetails(input.details);
    if (details) event.details = details;
    if (note) event.note = note;
    return event;
  }

  function toRow(e: AuditEvent): unknown[] {
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

  function where(filter: AuditFilter): { sql: string[]; params: unknown[] } {
    const sql: string[] = [];
    const params: unknown[] = [];
    if (filter.user) {
      const slash = filter.user.indexOf("/");
      const bare = (slash < 0 ? filter.user : filter.user.slice(0, slash)).toLowerCase();
      sql.push("user_jid = ?");
      params.push(bare);
      if (slash >= 0) {
        sql.push("resource = ?");
        params.push(filter.user.slice(slash + 1));
      }
    }
    const types = (Array.isArray(filter.type) ? filter.type : filter.type ? [filter.type] : []).filter(Boolean);
    if (types.length) {
      sql.push(`type IN (${types.map(() => "?").join(", ")})`);
      params.push(...types);
    }
    if (filter.module) {
      sql.push("module = ?");
      params.push(filter.module);
    }
    if (filter.country) {
      sql.push("country_code = ?");
      params.push(filter.country.toUpperCase());
    }
    if (filter.ip) {
      sql.push("ip = ?");
      params.push(normalizeIp(filter.ip) ?? filter.ip);
    }
    if (filter.since) {
      sql.push("time_ms >= ?");
      params.push(filter.since.getTime());
    }
    if (filter.until) {
      sql.push("time_ms < ?");
      params.push(filter.until.getTime());
    }
    return { sql, params };
  }

  const whereClause = (sql: string[]) => (sql.length ? ` WHERE ${sql.join(" AND ")}` : "");

  return {
    record(input) {
      if (closed) return Promise.reject(new Error("the audit log is closed"));
      if (queued >= maxQueued) {
        dropped++;
        if (outage && dropped - outage.droppedBefore === 1)
          logger?.error({ maxQueued }, "the audit queue is full: events are dropped until the database is back");
        deps.onDrop?.();
        return Promise.reject(new QueueFullError(maxQueued));
      }
      let event: AuditEvent;
      try {
        event = build(input);
      } catch (err) {
        // A producer's payload must never take the event down with it: record what is certain.
        logger?.warn({ err, type: input?.type }, "audit event had unusable fields; recorded without them");
        event = {
          id: eventId(),
          time: new Date(),
          type: String(input?.type ?? "unknown").slice(0, 100),
          host: options.host,
          module: String(input?.module ?? "unknown").slice(0, 100),
        };
      }
      return enqueue(event);
    },

    async query(q = {}) {
      const limit = q.limit ?? 100;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new AuditQueryError("limit", "expected a whole number from 1 to 1000");
      const { sql, params } = where(q);
      if (q.cursor) {
        const c = decodeCursor(q.cursor);
        sql.push("(time_ms < ? OR (time_ms = ? AND id < ?))");
        params.push(c.time, c.time, c.id);
      }
      const rows = await store.query<Row>(`SELECT ${AUDIT_COLUMNS.join(", ")} FROM ${AUDIT_TABLE}${whereClause(sql)} ORDER BY time_ms DESC, id DESC LIMIT ?`, [
        ...params,
        limit + 1,
      ]);
      const events = rows.slice(0, limit).map(fromRow);
      const last = events.at(-1);
      return rows.length > limit && last ? { events, next: encodeCursor(last.time.getTime(), last.id) } : { events };
    },

    async summary(filter = {}) {
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
    },

    async purge(now = new Date()) {
      let expired = 0;
      let overQuota = 0;
      if (expiresAfter !== null) {
        expired = (await store.run(`DELETE FROM ${AUDIT_TABLE} WHERE time_ms < ?`, [now.getTime() - expiresAfter])).changes;
      }
      if (maxRows !== null) {
        const [c] = await store.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${AUDIT_TABLE}`);
        const excess = Number(c?.n ?? 0) - maxRows;
        if (excess > 0) {
          overQuota = (await store.run(`DELETE FROM ${AUDIT_TABLE} WHERE id IN (SELECT id FROM ${AUDIT_TABLE} ORDER BY time_ms ASC, id ASC LIMIT ?)`, [excess]))
            .changes;
        }
      }
      return { expired, overQuota };
    },

    flush() {
      seal();
      return writer.flush();
    },
    close() {
      closed = true;
      seal();
      return writer.close();
    },
    get dropped() {
      return dropped;
    },
    get queued() {
      return queued;
    },
  };
}

function fromRow(r: Row): AuditEvent {
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

let lastMs = 0;
let seq = 0;
// Random bits come from a pooled buffer refilled from the CSPRNG 512 ids at a time (as crypto.randomUUID()
// does): one randomBytes(16) per event cost ~5 µs, a fifth of record(). Each id takes 8 fresh bytes, never
// reused. The text is written as ASCII into a 36-byte buffer (the timestamp part once per millisecond) and
// read out as one flat string: concatenated pieces would keep a rope of ~12 strings alive per queued event.
const POOL_BYTES = 8 * 512;
const pool = Buffer.allocUnsafeSlow(POOL_BYTES);
let poolAt = POOL_BYTES;
const text = Buffer.alloc(36, 0x2d); // "-" at 8, 13, 18 and 23
const HEX_CHARS = Buffer.from("0123456789abcdef", "latin1");
let textMs = -1;
/** Two hex digits of byte `v` at `at`. */
function hexByte(v: number, at: number) {
  text[at] = HEX_CHARS[v >> 4]!;
  text[at + 1] = HEX_CHARS[v & 15]!;
}
/**
 * A UUIDv7 (RFC 9562): the creation millisecond, then a counter, then random bits, so ids sort in the order
 * events were recorded and break ties between events of the same time.
 */
export function eventId(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    seq = 0;
  } else if (++seq > 0xfff) {
    lastMs += 1; // more than 4096 in one millisecond: borrow the next one, keep the order
    seq = 0;
  }
  if (lastMs !== textMs) {
    textMs = lastMs;
    // 48-bit milliseconds (8 + 4 hex digits), then the version nibble.
    const hi = Math.floor(lastMs / 0x10000);
    const lo = lastMs % 0x10000;
    for (let k = 0; k < 4; k++) hexByte((hi >>> (24 - 8 * k)) & 0xff, 2 * k);
    hexByte(lo >> 8, 9);
    hexByte(lo & 0xff, 11);
    text[14] = 0x37; // "7"
  }
  // The 12-bit counter.
  text[15] = HEX_CHARS[seq >> 8]!;
  hexByte(seq & 0xff, 16);
  if (poolAt > POOL_BYTES - 8) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const i = poolAt;
  poolAt += 8;
  // The variant (10xx) and 62 random bits.
  hexByte((pool[i]! & 0x3f) | 0x80, 19);
  hexByte(pool[i + 1]!, 21);
  for (let k = 2; k < 8; k++) hexByte(pool[i + k]!, 20 + 2 * k);
  return text.toString("latin1", 0, 36);
}

function encodeCursor(time: number, id: string): string {
  return Buffer.from(`${time}:${id}`).toString("base64url");
}

function decodeCursor(cursor: string): { time: number; id: string } {
  const m = /^(\d{1,16}):([0-9a-f-]{36})$/.exec(Buffer.from(cursor, "base64url").toString());
  if (!m) throw new AuditQueryError("cursor", "not a cursor from a previous page (use the `next` value as it is)");
  return { time: Number(m[1]), id: m[2]! };
}
