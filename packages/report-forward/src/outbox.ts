// The outbox of accepted reports. A report answered "accepted" (HTTP 202, or taken from the server) is
// stored before that answer and removed only once every destination has it, or can never have it. Delivery
// runs while the link is up, retries what failed with backoff, starts again at once when the link comes
// back, and after a restart from what the store holds. Delivery is at least once: after a crash between a
// delivery and its record, a destination sees the report again under the same message id.
import { backoffDelay, parseXml, type BackoffOptions, type Lifecycle, type Logger, type Migration, type Store } from "@xmppkit/core";
import type { AcceptedReport } from "./forward-message.js";
import { OutboxScheduler } from "./outbox-scheduler.js";
import type { ReportSource, Withheld } from "./report-types.js";

/** What is kept of a report: its elements as XML text, the rest as parsed. */
export interface StoredReport extends Omit<AcceptedReport, "element" | "forwarded"> {
  element: string;
  forwarded?: { message: string; stamp?: string };
}

export function storeReport(report: AcceptedReport): StoredReport {
  const { element, forwarded, ...rest } = report;
  return {
    ...rest,
    element: element.toString(),
    ...(forwarded ? { forwarded: { message: forwarded.message.toString(), ...(forwarded.stamp ? { stamp: forwarded.stamp.toISOString() } : {}) } } : {}),
  };
}

export function loadReport(stored: StoredReport): AcceptedReport {
  const { element, forwarded, ...rest } = stored;
  return {
    ...rest,
    element: parseXml(element),
    ...(forwarded ? { forwarded: { message: parseXml(forwarded.message), ...(forwarded.stamp ? { stamp: new Date(forwarded.stamp) } : {}) } } : {}),
  };
}

export interface OutboxEntry {
  /** The report id (also in every forwarded message's id, for the receivers' dedupe). */
  id: string;
  acceptedAt: number;
  report: StoredReport;
  source: Pick<ReportSource, "via" | "source" | "session">;
  /** Audiences a limit held this report back from, decided at intake. */
  withheld?: Withheld[] | undefined;
  /**
   * Part of a burst (one reporter's, or about one JID): staff get it in one digest with the burst's other
   * reports. `count`: the burst's reports inside the digest window when this one came.
   */
  digest?: { key: string; count: number } | undefined;
  /** Destinations that have it or never will ("staff mod@example.org", "origin"…). */
  done: string[];
  attempts: number;
  /** When the next delivery round may run (ms since the epoch). */
  nextAt: number;
}

/** Where entries live between rounds: memory (a bot without a store), or the gateway's SQLite/PostgreSQL. */
export interface OutboxStore {
  readonly durable: boolean;
  load(): Promise<OutboxEntry[]>;
  put(entry: OutboxEntry): Promise<void>;
  remove(id: string): Promise<void>;
  /** Entry `id`, if it is stored. */
  get?(id: string): Promise<OutboxEntry | undefined>;
  /** Say that entry `id` was added, for the other processes on the store (an active/standby pair). */
  added?(id: string): Promise<void>;
  /** Be told of entries another process added (`undefined`: something may have been missed; read again). */
  watch?(fn: (id: string | undefined) => void): Promise<() => void>;
}

/** The PostgreSQL channel on which new outbox entries are announced. */
export const OUTBOX_CHANNEL = "xmppkit_report_outbox";

export function memoryOutboxStore(): OutboxStore {
  const entries = new Map<string, OutboxEntry>();
  return {
    durable: false,
    load: async () => [...entries.values()].map((e) => structuredClone(e)),
    put: async (e) => void entries.set(e.id, structuredClone(e)),
    remove: async (id) => void entries.delete(id),
  };
}

export const OUTBOX_TABLE = "xmppkit_report_outbox";
export const OUTBOX_MIGRATIONS: Migration[] = [
  { version: 1, name: "report outbox", sql: `CREATE TABLE ${OUTBOX_TABLE} (id TEXT PRIMARY KEY, accepted_at BIGINT NOT NULL, entry TEXT NOT NULL)` },
];

/** The outbox in the core store; its table is created on first use. */
export async function sqlOutboxStore(store: Store): Promise<OutboxStore> {
  await store.migrate("report-forward", OUTBOX_MIGRATIONS);
  return {
    durable: true,
    async load() {
      const rows = await store.query<{ entry: string }>(`SELECT entry FROM ${OUTBOX_TABLE} ORDER BY accepted_at`);
      return rows.map((r) => JSON.parse(r.entry) as OutboxEntry);
    },
    async put(e) {
      await store.run(`INSERT INTO ${OUTBOX_TABLE} (id, accepted_at, entry) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET entry = excluded.entry`, [
        e.id,
        e.acceptedAt,
        JSON.stringify(e),
      ]);
    },
    async remove(id) {
      await store.run(`DELETE FROM ${OUTBOX_TABLE} WHERE id = ?`, [id]);
    },
    async get(id) {
      const [row] = await store.query<{ entry: string }>(`SELECT entry FROM ${OUTBOX_TABLE} WHERE id = ?`, [id]);
      return row ? (JSON.parse(row.entry) as OutboxEntry) : undefined;
    },
    // PostgreSQL: a report accepted by the standby (behind one address with the holder) reaches the holder at once.
    ...(store.notify && store.listen
      ? {
          added: (id: string) => store.notify!(OUTBOX_CHANNEL, id),
          watch: (fn: (id: string | undefined) => void) => store.listen!(OUTBOX_CHANNEL, fn),
        }
      : {}),
  };
}

/** The result of one delivery round: destination keys now settled, and whether some must be tried again. */
export interface Round {
  settled: string[];
  retry: boolean;
}

export interface OutboxOptions {
  /** Delays between rounds of one report (default 5 s doubling up to 5 min, with jitter). */
  backoff?: BackoffOptions;
  /** A report still not delivered after this long is given up, and said so (default 7 days). */
  maxAgeMs?: number;
  /** Reports delivered at once (default 8). */
  concurrency?: number;
  now?: () => number;
}

export interface OutboxDeps {
  store: OutboxStore;
  lifecycle: Pick<Lifecycle, "online" | "on" | "off">;
  /** Deliver what `entry` still lacks; never throws. `final`: the report's last chance (it is too old). */
  deliver(entry: OutboxEntry, final: boolean): Promise<Round>;
  /** Deliver a burst's entries together (one digest per staff member); rounds in `entries` order. */
  deliverGroup?(entries: readonly OutboxEntry[], finals: readonly boolean[]): Promise<Round[]>;
  /** The entry is finished: delivered everywhere, or given up. */
  onFinished?(entry: OutboxEntry, gaveUp: boolean): void;
  logger?: Logger | undefined;
}

export interface Outbox {
  /** Store `entry` (resolves once stored) and deliver it as soon as the link allows. */
  add(entry: OutboxEntry): Promise<void>;
  /** Reports waiting for delivery. */
  readonly size: number;
  readonly durable: boolean;
  /** Load what a previous run left and deliver it. */
  start(): Promise<void>;
  /** Stop delivering (what is left stays stored for the next start). */
  stop(): Promise<void>;
}

/** What one entry's round needs: the outbox's state and its settings. */
interface RoundContext {
  deps: Pick<OutboxDeps, "store" | "deliver" | "deliverGroup" | "onFinished" | "logger">;
  entries: Map<string, OutboxEntry>;
  inFlight: Set<string>;
  now: () => number;
  maxAge: number;
  backoff: BackoffOptions;
  /** Note that entry `id` is finished (for a reload() reading the store meanwhile). */
  finished(id: string): void;
}

/** Largest burst delivered in one round (the rest go in the next). */
const MAX_GROUP = 100;

/**
 * `entry` and the other entries of its burst that are due, or not tried yet (those waiting for the digest
 * come along whatever their due time); one backing off after a failure waits for its own time.
 */
function groupOf(ctx: RoundContext, entry: OutboxEntry): OutboxEntry[] {
  const key = entry.digest?.key;
  if (key === undefined || !ctx.deps.deliverGroup) return [entry];
  const now = ctx.now();
  const joins = (e: OutboxEntry) => e !== entry && e.digest?.key === key && !ctx.inFlight.has(e.id) && (e.attempts === 0 || e.nextAt <= now);
  const others = [...ctx.entries.values()].filter(joins);
  return [entry, ...others.sort((a, b) => a.acceptedAt - b.acceptedAt).slice(0, MAX_GROUP - 1)];
}

/** Record what a round settled for `entry`, then finish it or schedule its next round. */
async function settle(ctx: RoundContext, entry: OutboxEntry, r: Round, final: boolean): Promise<void> {
  const { store, logger } = ctx.deps;
  for (const k of r.settled) if (!entry.done.includes(k)) entry.done.push(k);
  if (!r.retry || final) {
    ctx.entries.delete(entry.id);
    ctx.finished(entry.id);
    await store.remove(entry.id).catch((err: unknown) => logger?.error({ err, id: entry.id }, "could not remove a delivered report from the outbox"));
    ctx.deps.onFinished?.(entry, r.retry);
    return;
  }
  entry.attempts += 1;
  entry.nextAt = ctx.now() + backoffDelay(entry.attempts - 1, ctx.backoff);
  await store.put(entry).catch((err: unknown) => logger?.error({ err, id: entry.id }, "could not update a report in the outbox"));
}

/** One delivery round of `entry` (with its burst, if it is part of one). */
async function runRound(ctx: RoundContext, entry: OutboxEntry): Promise<void> {
  const { deps, inFlight, now } = ctx;
  if (inFlight.has(entry.id)) return; // already in a burst's round
  const group = groupOf(ctx, entry);
  for (const e of group) inFlight.add(e.id);
  try {
    const finals = group.map((e) => now() - e.acceptedAt >= ctx.maxAge);
    let rounds: Round[];
    try {
      rounds = group.length > 1 && deps.deliverGroup ? await deps.deliverGroup(group, finals) : [await deps.deliver(entry, finals[0]!)];
    } catch (err) {
      // A bug in a round must not lose the report, nor stop the other reports' delivery.
      deps.logger?.error({ err, id: entry.id }, "a delivery round failed; the report stays in the outbox");
      rounds = group.map(() => ({ settled: [], retry: true }));
    }
    await Promise.all(group.map((e, i) => settle(ctx, e, rounds[i] ?? { settled: [], retry: true }, finals[i]!)));
  } finally {
    for (const e of group) inFlight.delete(e.id);
  }
}

export function createOutbox(deps: OutboxDeps, options: OutboxOptions = {}): Outbox {
  const { store, lifecycle, logger } = deps;
  const now = options.now ?? Date.now;
  const entries = new Map<string, OutboxEntry>();
  const inFlight = new Set<string>();
  /** The entries finished while each running reload() read the store. */
  const finishing = new Set<Set<string>>();
  const ctx: RoundContext = {
    deps,
    entries,
    inFlight,
    now,
    maxAge: options.maxAgeMs ?? 7 * 86_400_000,
    backoff: { initial: 5000, max: 300_000, ...options.backoff },
    finished: (id) => {
      for (const set of finishing) set.add(id);
    },
  };
  const scheduler = new OutboxScheduler({ lifecycle, entries, inFlight, now, round: (e) => runRound(ctx, e) }, options.concurrency ?? 8);

  /**
   * The store is the truth at each (re)connect: an active/standby pair shares it, so a standby that takes
   * over finds what the old holder accepted after this process started, and forgets what it delivered.
   */
  async function reload() {
    const known = new Set(entries.keys());
    const finished = new Set<string>();
    finishing.add(finished);
    try {
      const stored = await store.load();
      const ids = new Set(stored.map((e) => e.id));
      // Only what was known before the read and is not in it any more is gone; an entry added while the read
      // ran is kept, and one finished while it ran is not brought back.
      for (const id of known) if (!ids.has(id) && !inFlight.has(id)) entries.delete(id);
      for (const e of stored) if (!entries.has(e.id) && !finished.has(e.id)) entries.set(e.id, e);
    } finally {
      finishing.delete(finished);
    }
  }

  /**
   * Another process (the standby of a pair) stored entry `id`: the holder delivers it now. `undefined`: a
   * notification may have been missed, read the store again. A standby (offline) reads it all when it takes over.
   */
  const onAdded = (id: string | undefined) => {
    if (!lifecycle.online) return;
    const fetched =
      id === undefined ? reload() : entries.has(id) ? Promise.resolve() : store.get?.(id).then((e) => void (e && !entries.has(e.id) && entries.set(e.id, e)));
    void Promise.resolve(fetched)
      .catch((err: unknown) => logger?.error({ err, id }, "could not read a report another instance accepted; it is delivered at the next read"))
      .then(() => scheduler.kick());
  };
  let unwatch: (() => void) | undefined;

  // Back online: everything waiting is due now, whatever its backoff said.
  const onOnline = () => {
    void (store.durable ? reload() : Promise.resolve())
      .catch((err: unknown) => logger?.error({ err }, "could not read the outbox; delivering what this process knows"))
      .then(() => {
        for (const e of entries.values()) e.nextAt = Math.min(e.nextAt, now());
        scheduler.kick();
      });
  };
  lifecycle.on("online", onOnline);

  return {
    async add(entry) {
      await store.put(entry);
      entries.set(entry.id, entry);
      scheduler.kick();
      store.added?.(entry.id).catch((err: unknown) => logger?.warn({ err, id: entry.id }, "could not announce a stored report to the other instance"));
    },
    get size() {
      return entries.size;
    },
    durable: store.durable,
    async start() {
      unwatch = await store.watch?.(onAdded);
      const left = await store.load();
      for (const e of left) if (!entries.has(e.id)) entries.set(e.id, e);
      if (left.length) logger?.info({ reports: left.length }, "reports accepted before the restart are waiting for delivery");
      scheduler.kick();
      scheduler.arm();
    },
    async stop() {
      const stopped = scheduler.stop(); // no more rounds from here
      lifecycle.off("online", onOnline);
      unwatch?.();
      await stopped;
    },
  };
}
