// Mirror a web application's contact lists into the server's rosters.
//
// Per user: fetch the web roster and get the server roster (in parallel), diff them, then one roster set per
// added or changed contact (subscription "both") and per removed one (subscription "remove"). The server
// stores the result and pushes it to the user's clients; an unchanged roster sends nothing. Users are
// independent: a failing user is reported and never blocks the others. Syncs of the same user never overlap:
// a request that arrives while one runs waits for it and then fetches again (so it sees the newest data),
// and any number of such requests share that one follow-up.
import { TypedEmitter, createLimiter, extend, parseJid, silentLogger, type Lifecycle, type Logger, type RosterItem, type Sessions } from "@xmppkit/core";
import { createRosterFetcher, RosterFetchError, type FetchFailure, type FetcherOptions } from "./fetch-roster.js";
import type { RosterAccess, RosterChange } from "./roster-access.js";
import type { RosterEdit, RosterReplaceResult } from "./roster-batch.js";
import { diffRoster } from "./roster-diff.js";
import type { SkippedContact } from "./roster-json.js";
import { normalizeUsername } from "./username.js";

/** What started a sync: the HTTP API, a user coming online, or a direct call. */
export type SyncTrigger = "http" | "login" | "api";

export type SyncFailure = FetchFailure | "invalid-username" | "roster-get" | "roster-set" | "stopped" | "internal";

export interface SyncResult {
  user: string;
  trigger: SyncTrigger;
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
  /** Roster set requests sent to the server: one per edit, or one per batch (mod_xmppkit_roster_batch). */
  requests: number;
  /** Entries of the web roster that were not valid contacts. */
  skipped: SkippedContact[];
  durationMs: number;
}

/** A roster set the server confirmed before a sync failed. */
export interface AppliedChange {
  jid: string;
  change: RosterChange;
}

export class RosterSyncError extends Error {
  override name = "RosterSyncError";
  /** What the server applied before the failure (a link that died part-way); empty: the roster is as it was. */
  readonly applied: AppliedChange[];
  constructor(
    readonly user: string,
    readonly reason: SyncFailure,
    message: string,
    options?: { cause?: unknown; applied?: AppliedChange[] },
  ) {
    super(message, options);
    this.applied = options?.applied ?? [];
  }
}

export interface RefreshResult {
  /** "error" only when every user failed. */
  status: "ok" | "error";
  message: string;
  /** Users whose roster now matches the web application's (changed or not). */
  updated: number;
  errors: number;
}

export interface RosterAdminEvents extends Record<string, unknown> {
  synced: SyncResult;
  /** `applied`: roster sets the server confirmed before the failure (0: the roster was left as it was). */
  "sync-failed": { user: string; trigger: SyncTrigger; reason: SyncFailure; message: string; applied: number };
}

export interface RosterAdminOptions extends Omit<FetcherOptions, "url"> {
  /** Prosody's `http_roster_url`: `%s` is replaced by the URL-encoded username. */
  url: string;
  /** Users synced at the same time (default 32): how many web-app requests may be open at once. */
  concurrency?: number;
  /**
   * Roster IQs (gets and sets) in flight to the server at once, over all users (default 32). The server
   * handles them one by one, so a deeper pipeline only adds queueing delay; a shallower one leaves the
   * server idle between round trips.
   */
  pipeline?: number;
  /** Sync a user when their first session comes online (default true; needs `sessions`). */
  syncOnLogin?: boolean;
  /** Skip the login sync of a user synced (or tried) less than this many ms ago (default 60 s). */
  loginDebounce?: number;
}

export interface RosterAdmin extends TypedEmitter<RosterAdminEvents> {
  /** Sync one user (a username on the roster domain); rejects with RosterSyncError. */
  sync(username: string, trigger?: SyncTrigger): Promise<SyncResult>;
  /** Sync many users (duplicates once) and summarise like Prosody's `/roster_admin/refresh`. */
  refresh(usernames: string[], trigger?: SyncTrigger): Promise<RefreshResult>;
  /** Syncs running or waiting. */
  readonly pending: number;
  /** Stop reacting to logins and wait for running syncs; later calls fail with reason "stopped". */
  stop(): Promise<void>;
}

export interface RosterAdminDeps {
  roster: RosterAccess;
  /** Local sessions (a component with the XEP-0356 presence permission): sync users as they log in. */
  sessions?: Sessions;
  /** For a client's own roster: sync on every (re)connect. */
  lifecycle?: Lifecycle;
  logger?: Logger;
}

const noop = () => undefined;

export function setupRosterAdmin({ roster, sessions, lifecycle, logger }: RosterAdminDeps, options: RosterAdminOptions): RosterAdmin {
  const log = logger ?? silentLogger();
  const emitter = new TypedEmitter<RosterAdminEvents>((err, event) => log.error({ err, event }, "roster-admin listener failed"));
  const fetchRoster = createRosterFetcher({ maxSockets: options.concurrency ?? 32, ...options });
  const limit = createLimiter(options.concurrency ?? 32);
  const pipeline = createLimiter(options.pipeline ?? 32);
  const loginDebounce = options.loginDebounce ?? 60_000;
  const lastSynced = new Map<string, number>();
  const inflight = new Map<string, { running?: Promise<SyncResult>; queued?: Promise<SyncResult> }>();
  const all = new Set<Promise<unknown>>();
  let stopped = false;

  function userJid(username: string): string {
    const domain = roster.domain;
    if (!domain) throw new RosterSyncError(username, "roster-get", "the server domain is not known yet (no XEP-0356 announcement; set server_domain)");
    return `${username}@${domain}`;
  }

  /** Per edit: undefined when the server applied it, or the error. In batches when the roster can, else one set each. */
  async function applyEdits(user: string, edits: RosterEdit[]): Promise<{ outcomes: (Error | undefined)[]; requests: number }> {
    const size = roster.batchSize ?? 0;
    if (roster.setMany && size > 1 && edits.length > 1) {
      const chunks: RosterEdit[][] = [];
      for (let i = 0; i < edits.length; i += size) chunks.push(edits.slice(i, i + size));
      const outcomes = (await Promise.all(chunks.map((chunk) => pipeline(() => roster.setMany!(user, chunk))))).flat();
      return { outcomes, requests: chunks.length };
    }
    const settled = await Promise.allSettled(edits.map(({ item, change }) => pipeline(() => roster.set(user, item, change))));
    return { outcomes: settled.map((o) => (o.status === "rejected" ? (o.reason as Error) : undefined)), requests: edits.length };
  }

  /** What a sync did to the server's roster. */
  interface Outcome {
    added: number;
    changed: number;
    removed: number;
    unchanged: number;
    requests: number;
  }

  async function runSync(username: string, trigger: SyncTrigger): Promise<SyncResult> {
    if (stopped) throw new RosterSyncError(username, "stopped", "roster-admin is stopped");
    const started = performance.now();
    const user = userJid(username);
    // With a roster that replaces in one request, no roster get: the server compares (one round trip).
    const replacing = !!roster.replace && (roster.batchSize ?? 0) > 0;
    const [web, current] = await Promise.allSettled([fetchRoster(username), replacing ? undefined : getRoster(username, user)]);
    if (web.status === "rejected") {
      const err = web.reason as unknown;
      if (err instanceof RosterFetchError) throw new RosterSyncError(username, err.reason, `fetching ${err.url}: ${err.message}`, { cause: err });
      throw err;
    }
    if (current.status === "rejected") throw current.reason;
    for (const s of web.value.skipped)
      log.warn({ user: username, key: s.key, reason: s.reason, url: web.value.url }, "skipped an invalid contact in the web roster");

    const wanted = web.value.items;
    const outcome =
      (replacing ? await replaceRoster(username, user, wanted) : undefined) ??
      (await syncByDiff(username, user, current.value ?? (await getRoster(username, user)), wanted));
    lastSynced.set(username, Date.now());
    return { user: username, trigger, ...outcome, skipped: web.value.skipped, durationMs: Math.round(performance.now() - started) };
  }

  async function getRoster(username: string, user: string): Promise<RosterItem[]> {
    try {
      return await pipeline(() => roster.get(user));
    } catch (err) {
      throw new RosterSyncError(username, "roster-get", `getting the roster of ${user}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** The whole web roster in one request; undefined when the roster cannot replace after all (then: diff). */
  async function replaceRoster(username: string, user: string, wanted: RosterItem[]): Promise<Outcome | undefined> {
    let result: RosterReplaceResult | undefined;
    try {
      result = await pipeline(() => roster.replace!(user, wanted));
    } catch (err) {
      throw new RosterSyncError(username, "roster-set", `replacing the roster of ${user}: ${(err as Error).message}`, { cause: err });
    }
    if (!result) return undefined;
    const count = (change: RosterChange) => result.applied.filter((a) => a.change === change).length;
    if (result.refused.length) {
      const first = result.refused[0]!;
      const what = result.applied.length ? `; ${result.applied.length} changes were applied` : "";
      throw new RosterSyncError(
        username,
        "roster-set",
        `the server refused ${result.refused.length} of ${wanted.length} contacts for ${user} (first: ${first.jid}: ${first.error})${what}`,
        { applied: result.applied },
      );
    }
    return { added: count("add"), changed: count("change"), removed: count("remove"), unchanged: result.unchanged, requests: 1 };
  }

  async function syncByDiff(username: string, user: string, current: RosterItem[], wanted: RosterItem[]): Promise<Outcome> {
    const diff = diffRoster(current, wanted, { compareSubscription: roster.honoursSubscription });
    const edits: RosterEdit[] = [
      ...diff.add.map((item): RosterEdit => ({ item, change: "add" })),
      ...diff.change.map((item): RosterEdit => ({ item, change: "change" })),
      ...diff.remove.map((jid): RosterEdit => ({ item: { jid, subscription: "remove", groups: [] }, change: "remove" })),
    ];
    const { outcomes, requests } = await applyEdits(user, edits);
    const failed = outcomes.flatMap((err, i) => (err ? [{ jid: edits[i]!.item.jid, error: err.message }] : []));
    if (failed.length) {
      const applied = edits.flatMap(({ item, change }, i) => (outcomes[i] ? [] : [{ jid: item.jid, change }]));
      const what = applied.length ? `; ${applied.length} were applied` : "";
      throw new RosterSyncError(
        username,
        "roster-set",
        `${failed.length} of ${edits.length} roster sets for ${user} failed (first: ${failed[0]!.jid}: ${failed[0]!.error})${what}`,
        { applied },
      );
    }
    return { added: diff.add.length, changed: diff.change.length, removed: diff.remove.length, unchanged: diff.unchanged, requests };
  }

  async function reported(username: string, trigger: SyncTrigger): Promise<SyncResult> {
    try {
      const result = await runSync(username, trigger);
      const changes = result.added + result.changed + result.removed;
      log[changes ? "info" : "debug"](
        {
          user: username,
          trigger,
          added: result.added,
          changed: result.changed,
          removed: result.removed,
          skipped: result.skipped.length,
          ms: result.durationMs,
        },
        changes ? "roster synced" : "roster unchanged",
      );
      emitter.emit("synced", result);
      return result;
    } catch (err) {
      const e = err instanceof RosterSyncError ? err : new RosterSyncError(username, "internal", (err as Error).message, { cause: err });
      if (e.applied.length) {
        // Part-way (a link that died mid-sync): say exactly what the server has, the next sync does the rest.
        const applied = e.applied.map((a) => `${a.change} ${a.jid}`);
        log.warn({ user: username, trigger, reason: e.reason, err: e.message, applied }, "roster sync failed part-way; these changes were applied");
      } else if (e.reason !== "stopped") {
        log.warn({ user: username, trigger, reason: e.reason, err: e.message }, "roster sync failed; the roster was left as it was");
      }
      emitter.emit("sync-failed", { user: username, trigger, reason: e.reason, message: e.message, applied: e.applied.length });
      throw e;
    }
  }

  function track<T>(p: Promise<T>): Promise<T> {
    all.add(p);
    void p.then(noop, noop).then(() => all.delete(p));
    return p;
  }

  function schedule(username: string, trigger: SyncTrigger): Promise<SyncResult> {
    let entry = inflight.get(username);
    if (!entry) {
      entry = {};
      inflight.set(username, entry);
    }
    const e = entry;
    if (e.queued) return e.queued;
    const start = (): Promise<SyncResult> => {
      const p = track(limit(() => reported(username, trigger)));
      e.running = p;
      void p.then(noop, noop).then(() => {
        if (e.running !== p) return;
        e.running = undefined;
        if (!e.queued) inflight.delete(username);
      });
      return p;
    };
    if (!e.running) return start();
    const queued = track(
      e.running.then(noop, noop).then(() => {
        e.queued = undefined;
        return start();
      }),
    );
    e.queued = queued;
    return queued;
  }

  function sync(username: string, trigger: SyncTrigger = "api"): Promise<SyncResult> {
    const checked = normalizeUsername(username);
    if ("error" in checked) {
      const err = new RosterSyncError(String(username), "invalid-username", `username ${checked.error}`);
      emitter.emit("sync-failed", { user: err.user, trigger, reason: err.reason, message: err.message, applied: 0 });
      return Promise.reject(err);
    }
    if (stopped) return Promise.reject(new RosterSyncError(checked.username, "stopped", "roster-admin is stopped"));
    return schedule(checked.username, trigger);
  }

  async function refresh(usernames: string[], trigger: SyncTrigger = "api"): Promise<RefreshResult> {
    const unique = [
      ...new Set(
        usernames.map((u) => {
          const c = normalizeUsername(u);
          return "username" in c ? c.username : String(u);
        }),
      ),
    ];
    const results = await Promise.allSettled(unique.map((u) => sync(u, trigger)));
    const errors = results.filter((r) => r.status === "rejected").length;
    const updated = unique.length - errors;
    if (unique.length > 0 && errors === unique.length) {
      const only = unique.length === 1 ? `: ${((results[0] as PromiseRejectedResult).reason as Error).message}` : " (see the log for each user)";
      return { status: "error", message: `roster update failed${only}`, updated, errors };
    }
    return {
      status: "ok",
      message: errors ? `roster update complete; ${errors} of ${unique.length} users failed (see the log)` : "roster update complete",
      updated,
      errors,
    };
  }

  const offs: (() => void)[] = [];
  if (sessions && options.syncOnLogin !== false) {
    // Every forwarded available presence, not only a first session: ejabberd replays nothing and forwards no
    // unavailable when a client just closes its stream, so a returning user is seen only as a presence again.
    offs.push(
      sessions.on("presence", ({ user, replayed }) => {
        const parsed = parseJid(user);
        const local = parsed?.local;
        if (!local || parsed.domain !== roster.domain || stopped) return;
        const last = lastSynced.get(local);
        if (last !== undefined && Date.now() - last < loginDebounce) return;
        if (inflight.has(local)) return; // a sync is running or queued
        log.debug({ user: local, replayed }, "user came online; syncing the roster");
        lastSynced.set(local, Date.now()); // one login sync per debounce, even while it runs or if it fails
        sync(local, "login").catch(noop);
      }),
    );
  }
  if (lifecycle && roster.kind === "own" && options.syncOnLogin !== false) {
    offs.push(
      lifecycle.on("online", () => {
        const self = roster.self;
        if (self && !stopped) sync(self, "login").catch(noop);
      }),
    );
  }

  return extend(emitter, {
    sync,
    refresh,
    get pending() {
      let n = 0;
      for (const e of inflight.values()) n += (e.running ? 1 : 0) + (e.queued ? 1 : 0);
      return n;
    },
    async stop() {
      stopped = true;
      for (const off of offs) off();
      await Promise.allSettled([...all]);
    },
  }) as RosterAdmin;
}
