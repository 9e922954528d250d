// One user's sync: fetch the web roster (and, without the roster batch module, get the server roster in
// parallel), then bring the server's in line with a sync strategy: by version where the server versions
// rosters, else a replace, else a diff. Knows nothing of scheduling, logs of the outcome or events.
import type { Logger } from "@xmppkit/core";
import { RosterFetchError, type RosterFetcher } from "./fetch-roster.js";
import type { AppliedRosters } from "./applied-rosters.js";
import { canReplace, getRoster, syncByDiff, syncByVersion, type StrategyDeps } from "./sync-strategies.js";
import { RosterSyncError, type RunSync } from "./sync-result.js";

export interface UserSyncDeps extends StrategyDeps {
  fetchRoster: RosterFetcher;
  log: Logger;
  /** When each user was last synced (ms since the epoch): set after every successful sync. */
  lastSynced: Map<string, number>;
  /** What was last applied to each user's roster (for servers that version rosters). */
  applied: AppliedRosters;
  /** True once roster-admin is stopped: a sync that starts then fails with reason "stopped". */
  stopped: () => boolean;
}

export function createUserSync(deps: UserSyncDeps): RunSync {
  const { roster, fetchRoster, log, lastSynced } = deps;

  function userJid(username: string): string {
    const domain = roster.domain;
    if (!domain) throw new RosterSyncError(username, "roster-get", "the server domain is not known yet (no XEP-0356 announcement; set server_domain)");
    return `${username}@${domain}`;
  }

  return async function runSync(username, trigger) {
    if (deps.stopped()) throw new RosterSyncError(username, "stopped", "roster-admin is stopped");
    const started = performance.now();
    const user = userJid(username);
    // With a roster that replaces in one request, no roster get: the server compares (one round trip).
    const replacing = canReplace(roster);
    const [web, current] = await Promise.allSettled([fetchRoster(username), replacing ? undefined : getRoster(deps, username, user)]);
    if (web.status === "rejected") {
      const err = web.reason as unknown;
      if (RosterFetchError.isInstance(err)) throw new RosterSyncError(username, err.reason, `fetching ${err.url}: ${err.message}`, { cause: err });
      throw err;
    }
    if (current.status === "rejected") throw current.reason;
    for (const s of web.value.skipped)
      log.warn({ user: username, key: s.key, reason: s.reason, url: web.value.url }, "skipped an invalid contact in the web roster");

    const wanted = web.value.items;
    const outcome =
      (replacing ? await syncByVersion(deps, username, user, wanted) : undefined) ??
      (await syncByDiff(deps, username, user, current.value ?? (await getRoster(deps, username, user)), wanted));
    lastSynced.set(username, Date.now());
    return { user: username, trigger, ...outcome, skipped: web.value.skipped, durationMs: Math.round(performance.now() - started) };
  };
}
