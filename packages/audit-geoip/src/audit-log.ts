// The audit log: events in the core store (SQLite by default, PostgreSQL by URL), written in batches off the
// caller's path, read back newest first with filters and keyset pagination, pruned by age and row count.
//
// `record()` never blocks: it builds the event (IP normalised, cut to a prefix, located) synchronously and
// queues it; the returned promise resolves once its row is committed (SQLite WAL with synchronous=FULL,
// or a PostgreSQL commit), so whatever was acknowledged survives a crash.
//
// The parts: the table (audit-schema.ts), the event builder (event-builder.ts), the batcher
// (audit-batcher.ts), the query builder (audit-query.ts) and retention (audit-retention.ts).
import type { Logger, Store } from "@xmppkit/core";
import { createAuditBatcher } from "./audit-batcher.js";
import type { AuditEvent, AuditEventInput } from "./audit-event.js";
import { queryPage, summarise, type AuditFilter, type AuditPage, type AuditQuery, type AuditSummary } from "./audit-query.js";
import { purgeAudit } from "./audit-retention.js";
import { AUDIT_MIGRATIONS } from "./audit-schema.js";
import { createEventBuilder } from "./event-builder.js";
import type { GeoIp } from "./geoip.js";

export { AUDIT_COLUMNS, AUDIT_MIGRATIONS, AUDIT_TABLE } from "./audit-schema.js";
export { AuditQueryError, type AuditFilter, type AuditPage, type AuditQuery, type AuditSummary } from "./audit-query.js";
export { eventId } from "./event-id.js";

const DAY_MS = 86_400_000;

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

/** Apply the audit log's migrations and return it. */
export async function openAuditLog(
  deps: { store: Store; geoip?: GeoIp | undefined; logger?: Logger | undefined; onDrop?: (() => void) | undefined },
  options: AuditLogOptions,
): Promise<AuditLog> {
  const { store } = deps;
  await store.migrate("audit-geoip", AUDIT_MIGRATIONS);
  const build = createEventBuilder(deps, { host: options.host, ips: options.ips ?? true, ipv4Prefix: options.ipv4Prefix, ipv6Prefix: options.ipv6Prefix });
  const retention = {
    expiresAfterMs: options.expiresAfterMs === undefined ? 28 * DAY_MS : options.expiresAfterMs,
    maxRows: options.maxRows === undefined ? 1_000_000 : options.maxRows,
  };
  const batcher = createAuditBatcher(deps, {
    maxRows: Math.max(1, options.batch?.maxRows ?? 500),
    maxDelayMs: options.batch?.maxDelayMs ?? 200,
    maxQueued: options.maxQueued ?? 100_000,
  });
  return {
    record(input) {
      const refused = batcher.refusal();
      return refused ? Promise.reject(refused) : batcher.enqueue(build(input));
    },
    query: (q = {}) => queryPage(store, q),
    summary: (filter = {}) => summarise(store, filter),
    purge: (now = new Date()) => purgeAudit(store, retention, now),
    flush: () => batcher.flush(),
    close: () => batcher.close(),
    get dropped() {
      return batcher.dropped;
    },
    get queued() {
      return batcher.queued;
    },
  };
}
