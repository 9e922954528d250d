// One user's sync: fetch the web roster (and, without the roster batch module, get the server roster in
// parallel), then bring the server's in line with a sync strategy: by version where the server versions
// rosters (a web answer byte for byte the one last applied is then not parsed again), else a replace, else a
// diff. Knows nothing of scheduling, logs of the outcome or events.
import type { Logger } from "@xmppkit/core";
import { RosterFetchError, type FetchedRoster, type RosterFetcher, type SameRoster } from "./fetch-roster.js";
import { rosterFromCanonical, type AppliedRoster, type AppliedRosters } from "./applied-rosters.js";
import type { SkippedContact } from "./roster-json.js";
import {
  canReplace,
  getRoster,
  readApplied,
  replaceRoster,
  syncByDiff,
  syncByVersion,
  versioned,
  type StrategyDeps,
  type SyncOutcome,
  type WebAnswer,
} from "./sync-strategies.js";
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

  /** The web roster: read, or the same body as `last`'s (then not parsed again); a failure is the sync's. */
  async function fetchWeb(username: string, last: AppliedRoster | undefined): Promise<FetchedRoster | SameRoster> {
    try {
      const web = await fetchRoster(username, { unlessDigest: last?.body });
      if (!web.same)
        for (const s of web.skipped) log.warn({ user: username, key: s.key, reason: s.reason, url: web.url }, "skipped an invalid contact in the web roster");
      return web;
    } catch (err) {
      if (RosterFetchError.isInstance(err)) throw new RosterSyncError(username, err.reason, `fetching ${err.url}: ${err.message}`, { cause: err });
      throw err;
    }
  }

  /** With versions: what was applied is read first, so that the same web answer is not parsed again. */
  async function syncVersioned(username: string, user: string): Promise<SyncOutcome & { skipped: SkippedContact[] }> {
    const last = await readApplied(deps, user);
    const web = await fetchWeb(username, last);
    const answer: WebAnswer = web.same ? { same: true } : { items: web.items, body: web.skipped.length ? undefined : web.digest };
    const outcome = await syncByVersion(deps, username, user, answer, last);
    const skipped = web.same ? [] : web.skipped;
    if (outcome) return { ...outcome, skipped };
    const wanted = web.same ? rosterFromCanonical(last!.items) : web.items;
    return { ...(await syncByDiff(deps, username, user, await getRoster(deps, username, user), wanted)), skipped };
  }

  /** Without versions: the web roster and (unless the roster replaces) the server's, side by side. */
  async function syncOtherwise(username: string, user: string): Promise<SyncOutcome & { skipped: SkippedContact[] }> {
    // With a roster that replaces in one request, no roster get: the server compares (one round trip).
    const replacing = canReplace(roster);
    const [web, current] = await Promise.allSettled([fetchWeb(username, undefined), replacing ? undefined : getRoster(deps, username, user)]);
    if (web.status === "rejected") throw web.reason;
    if (current.status === "rejected") throw current.reason;
    const { items: wanted, skipped } = web.value as FetchedRoster;
    const outcome =
      (replacing ? await replaceRoster(deps, username, user, wanted) : undefined) ??
      (await syncByDiff(deps, username, user, current.value ?? (await getRoster(deps, username, user)), wanted));
    return { ...outcome, skipped };
  }

  return async function runSync(username, trigger) {
    if (deps.stopped()) throw new RosterSyncError(username, "stopped", "roster-admin is stopped");
    const started = performance.now();
    const user = userJid(username);
    const { skipped, ...outcome } = versioned(roster) ? await syncVersioned(username, user) : await syncOtherwise(username, user);
    lastSynced.set(username, Date.now());
    return { user: username, trigger, ...outcome, skipped, durationMs: Math.round(performance.now() - started) };
  };
}
