// Rate-limit and dedupe windows of the abuse desk, in memory (a bot without a store) or in the gateway's SQL
// store, where they survive a restart and are shared by an active/standby pair on one PostgreSQL.
//
// Design:
// - Rate limits are an exact sliding log: one row (key_hash, at, keep_until) per counted hit, indexed on
//   (key_hash, at). A check is over its limit when its (limit)th newest hit is still inside the window, and
//   may take again when that hit leaves it: retryAfter = that hit's time + window − now. Reading the
//   (limit)th newest row (ORDER BY at DESC LIMIT 1 OFFSET limit−1) answers both "over?" and "until when?"
//   in one index range scan. A log is exact (no bucket edges) and small here: `take` never counts past the
//   limit, so a key holds at most `limit` rows per window.
// - Atomicity: `take` and `hit` read and write inside one `store.transaction`. On SQLite that is BEGIN
//   IMMEDIATE (the write lock is held from the start; the store also serialises its one connection). On
//   PostgreSQL transactions are READ COMMITTED, so first `pg_advisory_xact_lock(<class>, <key>)` is taken for
//   each distinct key, in ascending order (no deadlock between calls naming several keys); it is released at
//   commit. The two-int4 key space is used on purpose: the gateway's lease and the migrations lock in the
//   single-bigint space (hashtext(...)), and the two spaces never collide; a collision between two of our
//   32-bit key ids only serialises two unrelated keys.
// - Dedupe is one row per key (key_hash PRIMARY KEY, expires_at) written by one conditional upsert:
//   INSERT … ON CONFLICT DO UPDATE … WHERE expires_at <= now. It touches a row (changes 1: new or expired →
//   "not seen") or none (changes 0: "seen", the record left as it was). Both SQLite and PostgreSQL make this
//   atomic per key: of two concurrent calls for one new key, one inserts, the other conflicts and its WHERE
//   sees the fresh row.
// - Keys are stored as sha256 (base64url), so a 10 kB key costs 43 bytes and the index stays small.
// - Times come from the injected clock only (never SQL now()), as BIGINT milliseconds.
// - Purge: each hit row carries keep_until = at + the longest window this instance had been asked for when
//   it counted the hit. A purge deletes rows whose keep_until has passed, so it never depends on what the
//   purging instance has been asked: a freshly restarted instance, or the other gateway of a pair, does not
//   wipe hits that a longer window still needs. Dedupe rows go once expired. Every 256 calls an instance
//   purges by itself.
// - Migration: owner "report-forward", version 2 (version 1 is the outbox's). sqlReportWindows migrates the
//   owner's whole list [outbox v1, windows v2], so the versions are always applied in order whichever of the
//   outbox and the windows is set up first; the outbox's own migrate([v1]) afterwards finds v1 recorded and
//   does nothing.
import { createHash } from "node:crypto";
import type { Migration, Queryable, Store } from "@xmppkit/core";
import { OUTBOX_MIGRATIONS } from "./outbox.js";

export type Clock = () => number;

export interface WindowCheck {
  /** Any string; may be long (hash it for storage: sha256 base64url). */
  key: string;
  /** Most hits in any windowMs; 0 = unlimited (always ok, and nothing needs counting). */
  limit: number;
  windowMs: number;
}

export type TakeResult = { ok: true } | { ok: false; key: string; retryAfterMs: number };

export interface ReportWindows {
  /** If every check is under its limit, count one hit for each (all or nothing) and say ok; else count nothing and name the first key over its limit, with when it may next take. Atomic across processes sharing the store. */
  take(checks: readonly WindowCheck[]): Promise<TakeResult>;
  /** Count one hit for `key` whatever the count, and return its hits inside windowMs, this one included. */
  hit(key: string, windowMs: number): Promise<number>;
  /** Dedupe: true when `key` was recorded inside the last windowMs (the record is left as it was); else record it now and return false. windowMs 0: always false, nothing recorded. Atomic: of two concurrent calls for one new key, exactly one returns false. */
  seen(key: string, windowMs: number): Promise<boolean>;
  /** Forget a dedupe key (a report recorded but then not accepted). */
  forget(key: string): Promise<void>;
  /** Remove what no window can need any more (hits older than the longest window asked so far, expired dedupe keys). Called now and then by the implementation itself too. */
  purge(): Promise<void>;
}

/** Calls between two purges an implementation runs by itself. */
const PURGE_EVERY = 256;

const HITS = "xmppkit_report_hits";
const SEEN = "xmppkit_report_seen";

export const REPORT_WINDOW_MIGRATIONS: Migration[] = [
  {
    version: 2,
    name: "report rate-limit and dedupe windows",
    sql: [
      `CREATE TABLE ${HITS} (key_hash TEXT NOT NULL, at BIGINT NOT NULL, keep_until BIGINT NOT NULL)`,
      `CREATE INDEX ${HITS}_key_at ON ${HITS} (key_hash, at)`,
      `CREATE INDEX ${HITS}_keep_until ON ${HITS} (keep_until)`,
      `CREATE TABLE ${SEEN} (key_hash TEXT PRIMARY KEY, expires_at BIGINT NOT NULL)`,
      `CREATE INDEX ${SEEN}_expires_at ON ${SEEN} (expires_at)`,
    ].join(";\n"),
  },
];

interface HashedKey {
  /** sha256 of the key, base64url: what is stored. */
  hash: string;
  /** Its first 32 bits: the key's PostgreSQL advisory lock id. */
  lock: number;
}

function hashKey(key: string): HashedKey {
  const digest = createHash("sha256").update(key).digest();
  return { hash: digest.toString("base64url"), lock: digest.readInt32BE(0) };
}

interface Counted {
  check: WindowCheck;
  key: HashedKey;
  /** Hits that make the check full (a whole number ≥ 1). */
  full: number;
}

/** The checks that count (limit > 0), with their hashed keys. */
function counted(checks: readonly WindowCheck[]): Counted[] {
  return checks.filter((c) => c.limit > 0).map((check) => ({ check, key: hashKey(check.key), full: Math.ceil(check.limit) }));
}

/** Calls `purge` every PURGE_EVERY calls; a failed periodic purge is left to the next one. */
function periodic(purge: () => Promise<void>): () => Promise<void> {
  let calls = 0;
  return async () => {
    if (++calls % PURGE_EVERY === 0) await purge().catch(() => undefined);
  };
}

/** The windows in memory: same semantics, bounded (expired hits and keys are swept), nothing shared. */
export function memoryReportWindows(now: Clock = Date.now): ReportWindows {
  const hits = new Map<string, number[]>();
  const until = new Map<string, number>();
  let longest = 0;

  /** `hash`'s hits still needed by some window (and drop the others). */
  const live = (hash: string, t: number): number[] => {
    const list = (hits.get(hash) ?? []).filter((at) => at > t - longest);
    if (list.length) hits.set(hash, list);
    else hits.delete(hash);
    return list;
  };
  const count = (hash: string, t: number) => {
    const list = live(hash, t);
    list.push(t);
    hits.set(hash, list);
  };
  const windows: ReportWindows = {
    async take(checks) {
      const todo = counted(checks);
      if (!todo.length) return { ok: true };
      const t = now();
      longest = Math.max(longest, ...todo.map((c) => c.check.windowMs));
      for (const { check, key, full } of todo) {
        const inside = live(key.hash, t)
          .filter((at) => at > t - check.windowMs)
          .sort((a, b) => b - a);
        const at = inside[full - 1];
        if (at !== undefined) return { ok: false, key: check.key, retryAfterMs: at + check.windowMs - t };
      }
      for (const hash of new Set(todo.map((c) => c.key.hash))) count(hash, t);
      await tick();
      return { ok: true };
    },
    async hit(key, windowMs) {
      const t = now();
      const { hash } = hashKey(key);
      longest = Math.max(longest, windowMs);
      count(hash, t);
      const n = live(hash, t).filter((at) => at > t - windowMs).length;
      await tick();
      return Math.max(1, n);
    },
    async seen(key, windowMs) {
      if (!(windowMs > 0)) return false;
      const t = now();
      const { hash } = hashKey(key);
      const seen = (until.get(hash) ?? Number.NEGATIVE_INFINITY) > t;
      if (!seen) until.set(hash, t + windowMs);
      await tick();
      return seen;
    },
    async forget(key) {
      until.delete(hashKey(key).hash);
    },
    async purge() {
      const t = now();
      for (const hash of [...hits.keys()]) live(hash, t);
      for (const [hash, expires] of until) if (expires <= t) until.delete(hash);
    },
  };
  const tick = periodic(() => windows.purge());
  return windows;
}

/** The (n)th newest hit of `hash` inside `windowMs` before `t`, if there are that many. */
async function nthNewest(tx: Queryable, hash: string, t: number, windowMs: number, n: number): Promise<number | undefined> {
  const rows = await tx.query<{ at: number | string }>(`SELECT at FROM ${HITS} WHERE key_hash = ? AND at > ? ORDER BY at DESC LIMIT 1 OFFSET ?`, [
    hash,
    t - windowMs,
    n - 1,
  ]);
  return rows[0] ? Number(rows[0].at) : undefined;
}

/** On PostgreSQL, hold each key's advisory lock until the transaction ends (ascending order: no deadlock). */
async function lockKeys(tx: Queryable, keys: HashedKey[]): Promise<void> {
  if (tx.dialect !== "postgres") return;
  for (const id of [...new Set(keys.map((k) => k.lock))].sort((a, b) => a - b)) {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext('xmppkit:report-windows'), ?::integer)", [id]);
  }
}

const INSERT_HIT = `INSERT INTO ${HITS} (key_hash, at, keep_until) VALUES (?, ?, ?)`;

/** The windows in the gateway's store (SQLite or PostgreSQL); their tables are created on first use. */
export async function sqlReportWindows(store: Store, now: Clock = Date.now): Promise<ReportWindows> {
  await store.migrate("report-forward", [...OUTBOX_MIGRATIONS, ...REPORT_WINDOW_MIGRATIONS]);
  let longest = 0;
  const windows: ReportWindows = {
    async take(checks) {
      const todo = counted(checks);
      if (!todo.length) return { ok: true };
      longest = Math.max(longest, ...todo.map((c) => c.check.windowMs));
      const result = await store.transaction<TakeResult>(async (tx) => {
        await lockKeys(
          tx,
          todo.map((c) => c.key),
        );
        const t = now(); // after the lock: a hit counted by whoever held it is not in our future
        for (const { check, key, full } of todo) {
          const at = await nthNewest(tx, key.hash, t, check.windowMs, full);
          if (at !== undefined) return { ok: false, key: check.key, retryAfterMs: at + check.windowMs - t };
        }
        for (const hash of new Set(todo.map((c) => c.key.hash))) await tx.run(INSERT_HIT, [hash, t, t + longest]);
        return { ok: true };
      });
      await tick();
      return result;
    },
    async hit(key, windowMs) {
      const hashed = hashKey(key);
      longest = Math.max(longest, windowMs);
      const n = await store.transaction(async (tx) => {
        await lockKeys(tx, [hashed]); // concurrent hits of one key get distinct counts
        const t = now();
        await tx.run(INSERT_HIT, [hashed.hash, t, t + longest]);
        const [row] = await tx.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${HITS} WHERE key_hash = ? AND at > ?`, [hashed.hash, t - windowMs]);
        return Number(row?.n ?? 0);
      });
      await tick();
      return Math.max(1, n);
    },
    async seen(key, windowMs) {
      if (!(windowMs > 0)) return false;
      const t = now();
      const r = await store.run(
        `INSERT INTO ${SEEN} (key_hash, expires_at) VALUES (?, ?) ON CONFLICT (key_hash) DO UPDATE SET expires_at = excluded.expires_at WHERE ${SEEN}.expires_at <= ?`,
        [hashKey(key).hash, t + windowMs, t],
      );
      await tick();
      return r.changes === 0;
    },
    async forget(key) {
      await store.run(`DELETE FROM ${SEEN} WHERE key_hash = ?`, [hashKey(key).hash]);
    },
    async purge() {
      const t = now();
      await store.run(`DELETE FROM ${HITS} WHERE keep_until <= ?`, [t]);
      await store.run(`DELETE FROM ${SEEN} WHERE expires_at <= ?`, [t]);
    },
  };
  const tick = periodic(() => windows.purge());
  return windows;
}
