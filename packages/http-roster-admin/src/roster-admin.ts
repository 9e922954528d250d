// Mirror a web application's contact lists into the server's rosters.
//
// Per user: fetch the web roster and get the server roster (in parallel), diff them, then one roster set per
// added or changed contact (subscription "both") and per removed one (subscription "remove"). The server
// stores the result and pushes it to the user's clients; an unchanged roster sends nothing. Users are
// independent: a failing user is reported and never blocks the others. Syncs of the same user never overlap:
// a request that arrives while one runs waits for it and then fetches again (so it sees the newest data),
// and any number of such requests share that one follow-up.
//
// The units, each in its own file: a user's sync (user-sync.ts) with its strategies (sync-strategies.ts), its
// report (sync-report.ts), the scheduler (sync-scheduler.ts), login syncs (login-sync.ts), refresh summaries
// (refresh.ts) and the adaptation to the server at hand (server-adaptation.ts). This file composes them.
import { TypedEmitter, createLimiter, extend, logListenerErrors, silentLogger, type Kit, type Logger } from "@xmppkit/core";
import { memoryAppliedRosters, type AppliedRosters } from "./applied-rosters.js";
import { createRosterFetcher, type FetcherOptions } from "./fetch-roster.js";
import { syncOnLogin } from "./login-sync.js";
import { refreshUsers } from "./refresh.js";
import type { RosterAccess } from "./roster-access.js";
import { adaptToServer, type ServerAdaptationOptions } from "./server-adaptation.js";
import { reportSyncs } from "./sync-report.js";
import type { RefreshResult, RosterAdminEvents, SyncResult, SyncTrigger } from "./sync-result.js";
import { createSyncScheduler } from "./sync-scheduler.js";
import { createUserSync } from "./user-sync.js";

export {
  RosterSyncError,
  type AppliedChange,
  type RefreshResult,
  type RosterAdminEvents,
  type SyncFailure,
  type SyncResult,
  type SyncTrigger,
} from "./sync-result.js";

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
  /**
   * With a kit's parts (`{ ...kit, roster }`): ask the server at every connect whether it batches roster sets and which server it is, and
   * at every grant whether it lets logins be seen; adapt the roster and report what is wrong (see
   * `adaptToServer`). Default `{}`: batch "auto", the writer judged from the roster. `false`: never ask.
   */
  adapt?: ServerAdaptationOptions | false;
}

export interface RosterAdmin extends TypedEmitter<RosterAdminEvents> {
  /** Sync one user (a username on the roster domain); rejects with RosterSyncError. */
  sync(username: string, trigger?: SyncTrigger): Promise<SyncResult>;
  /** Sync many users (duplicates once) and summarise like Prosody's `/roster_admin/refresh`. */
  refresh(usernames: string[], trigger?: SyncTrigger): Promise<RefreshResult>;
  /** Syncs running or waiting. */
  readonly pending: number;
  /** Stop reacting to logins and connects and wait for running syncs; later calls fail with reason "stopped". */
  stop(): Promise<void>;
}

/** What of a kit roster-admin uses: the server checks (iq, lifecycle, privilege, reach, serverDomain), logins. */
export type RosterAdminKit = Pick<Kit, "iq" | "lifecycle" | "privilege" | "reach" | "serverDomain" | "sessions">;

/**
 * `{ ...kit, roster }`, as every feature takes its dependencies. Each part is optional: without `sessions` no
 * user is synced at login, without `lifecycle` nothing happens at a (re)connect, and the server is checked
 * and adapted to (option `adapt`) only with iq, lifecycle, privilege and reach.
 */
export type RosterAdminDeps = Partial<RosterAdminKit> & {
  roster: RosterAccess;
  /**
   * Where what was last applied to each roster is kept, for servers that version rosters (Prosody with
   * mod_xmppkit_roster_batch): a store's `kv("…")` survives restarts. Default: the last 10,000 users in memory.
   */
  applied?: AppliedRosters | undefined;
  /** Where syncs and failing listeners are logged (a kit carries its logger). */
  logger?: Logger | undefined;
};

export function setupRosterAdmin({ roster, logger, applied, ...deps }: RosterAdminDeps, options: RosterAdminOptions): RosterAdmin {
  const log = logger ?? silentLogger();
  const { sessions, lifecycle, iq, privilege, reach, serverDomain } = deps;
  const kit = iq && lifecycle && privilege && reach ? { iq, lifecycle, privilege, reach, serverDomain } : undefined;
  const emitter = new TypedEmitter<RosterAdminEvents>(logListenerErrors(logger, "a roster-admin listener failed"));
  const lastSynced = new Map<string, number>();
  const run = createUserSync({
    roster,
    fetchRoster: createRosterFetcher({ maxSockets: options.concurrency ?? 32, ...options }),
    pipeline: createLimiter(options.pipeline ?? 32),
    log,
    lastSynced,
    applied: applied ?? memoryAppliedRosters(),
    stopped: () => scheduler.stopped,
  });
  const scheduler = createSyncScheduler({ run: reportSyncs({ log, emitter }, run), limit: createLimiter(options.concurrency ?? 32), emitter });

  const logins = options.syncOnLogin !== false;
  const offs = logins ? syncOnLogin({ roster, scheduler, lastSynced, sessions, lifecycle, log }, { loginDebounce: options.loginDebounce ?? 60_000 }) : [];
  if (kit && options.adapt !== false) offs.push(adaptToServer({ roster, kit, wantsLogins: logins && !!sessions, logger: log }, options.adapt));

  return extend(emitter, {
    sync: (username: string, trigger?: SyncTrigger) => scheduler.sync(username, trigger),
    refresh: (usernames: string[], trigger?: SyncTrigger) => refreshUsers(scheduler.sync, usernames, trigger),
    get pending() {
      return scheduler.pending;
    },
    async stop() {
      for (const off of offs) off();
      await scheduler.stop();
    },
  }) as RosterAdmin;
}
