// When syncs run. At most `limit` users at once; syncs of the same user never overlap: a request that arrives
// while one runs waits for it and then fetches again (so it sees the newest data), and any number of such
// requests share that one follow-up. `stop()` refuses new syncs and waits for every one started.
import type { Limiter, TypedEmitter } from "@xmppkit/core";
import { RosterSyncError, type RosterAdminEvents, type RunSync, type SyncResult, type SyncTrigger } from "./sync-result.js";
import { normalizeUsername } from "./username.js";

export interface SyncSchedulerDeps {
  /** One user's sync (its outcome reported). */
  run: RunSync;
  /** Users synced at the same time. */
  limit: Limiter;
  /** Told of a username refused before any sync ("sync-failed", reason "invalid-username"). */
  emitter: Pick<TypedEmitter<RosterAdminEvents>, "emit">;
}

export interface SyncScheduler {
  /** Sync one user (a username on the roster domain); rejects with RosterSyncError. */
  sync(username: string, trigger?: SyncTrigger): Promise<SyncResult>;
  /** Whether a sync of `username` (normalized) is running or queued. */
  busy(username: string): boolean;
  /** Syncs running or waiting. */
  readonly pending: number;
  readonly stopped: boolean;
  /** Refuse new syncs (reason "stopped") and wait for the ones started. */
  stop(): Promise<void>;
}

const noop = () => undefined;

interface Slot {
  running?: Promise<SyncResult>;
  queued?: Promise<SyncResult>;
}

export function createSyncScheduler({ run, limit, emitter }: SyncSchedulerDeps): SyncScheduler {
  const inflight = new Map<string, Slot>();
  const all = new Set<Promise<unknown>>();
  let stopped = false;

  function track<T>(p: Promise<T>): Promise<T> {
    all.add(p);
    void p.then(noop, noop).then(() => all.delete(p));
    return p;
  }

  function schedule(username: string, trigger: SyncTrigger): Promise<SyncResult> {
    let e = inflight.get(username);
    if (!e) {
      e = {};
      inflight.set(username, e);
    }
    const slot = e;
    if (slot.queued) return slot.queued;
    const start = (): Promise<SyncResult> => {
      const p = track(limit(() => run(username, trigger)));
      slot.running = p;
      void p.then(noop, noop).then(() => {
        if (slot.running !== p) return;
        slot.running = undefined;
        if (!slot.queued) inflight.delete(username);
      });
      return p;
    };
    if (!slot.running) return start();
    const queued = track(
      slot.running.then(noop, noop).then(() => {
        slot.queued = undefined;
        return start();
      }),
    );
    slot.queued = queued;
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

  return {
    sync,
    busy: (username) => inflight.has(username),
    get pending() {
      let n = 0;
      for (const e of inflight.values()) n += (e.running ? 1 : 0) + (e.queued ? 1 : 0);
      return n;
    },
    get stopped() {
      return stopped;
    },
    async stop() {
      stopped = true;
      await Promise.allSettled([...all]);
    },
  };
}
