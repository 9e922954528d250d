// The ways a user's roster is brought in line with the web roster:
//   syncByVersion: with what was last applied and the server's roster version (the companion module
//                  mod_xmppkit_roster_batch): nothing sent but a version get when neither roster changed, only
//                  the difference when the web's did, and a replace when the server's did;
//   replaceRoster: the whole web roster in one request and the server compares (Prosody with the companion
//                  module, XEP-0356 https://xmpp.org/extensions/xep-0356.html);
//   syncByDiff:    the server's roster read, diffed here, and only the differences set (in batches when the
//                  roster can, else one roster set per edit, RFC 6121 §2 https://www.rfc-editor.org/rfc/rfc6121#section-2).
import type { Limiter, Logger, RosterItem } from "@xmppkit/core";
import { canonicalRoster, rosterFromCanonical, type AppliedRoster, type AppliedRosters } from "./applied-rosters.js";
import type { RosterAccess } from "./roster-access.js";
import type { RosterEdit, RosterReplaceResult } from "./roster-batch.js";
import { diffRoster, type RosterDiff } from "./roster-diff.js";
import { RosterSyncError } from "./sync-result.js";

export interface StrategyDeps {
  roster: RosterAccess;
  /** Bounds the roster IQs in flight to the server, over all users. */
  pipeline: Limiter;
}

/** What a sync did to the server's roster. */
export interface SyncOutcome {
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
  requests: number;
}

export interface VersionDeps extends StrategyDeps {
  /** What was last applied to each user's roster. */
  applied: AppliedRosters;
  log: Logger;
}

const NOTHING = { added: 0, changed: 0, removed: 0 };

/**
 * The web app's answer: its items and the digest of its body (when every contact in it was taken), or
 * `same` when its body was the one of the applied record (then its items are that record's).
 */
export type WebAnswer = { items: RosterItem[]; body?: string | undefined } | { same: true };

/** What was last applied to `user`'s roster; a store that fails is logged and costs the shortcut only. */
export function readApplied(deps: VersionDeps, user: string): Promise<AppliedRoster | undefined> {
  return deps.applied.get(user).catch((err: unknown) => void deps.log.warn({ user, err }, "reading the applied roster failed"));
}

/** Whether a sync can use versions (syncByVersion) and what was applied: only then worth reading. */
export const versioned = (roster: RosterAccess): boolean => canReplace(roster) && !!roster.version && !!roster.setIfVersion;

/**
 * Against what was last applied (`last`, from readApplied) and the server's roster version, for a roster that
 * replaces in one request and versions (`versioned`). Undefined when the roster cannot replace after all
 * (then: get and diff).
 */
export async function syncByVersion(
  deps: VersionDeps,
  username: string,
  user: string,
  web: WebAnswer,
  last: AppliedRoster | undefined,
): Promise<SyncOutcome | undefined> {
  const { roster, pipeline } = deps;
  const same = "same" in web;
  if (same && !last) throw new TypeError("an answer can only be the same as an applied record");
  const items = same ? last!.items : canonicalRoster(web.items);
  const body = same ? last!.body : web.body;
  const wanted = () => (same ? rosterFromCanonical(items) : web.items);
  if (last && last.items === items) {
    const ver = await attempt(username, user, "roster-get", "getting the roster version", () => pipeline(() => roster.version!(user)));
    const unchanged = { ...NOTHING, unchanged: same ? countCanonical(items) : web.items.length, requests: 0 };
    // The same roster in another body (another order, say): its digest kept for the next time.
    if (ver === last.ver) return body === last.body ? unchanged : remember(deps, user, ver, items, body, unchanged);
  } else if (last) {
    const diff = diffRoster(rosterFromCanonical(last.items), wanted(), { compareSubscription: roster.honoursSubscription });
    const edits = toEdits(diff);
    if (edits.length <= (roster.batchSize ?? 0)) {
      const result = await attempt(username, user, "roster-set", "setting the roster", () => pipeline(() => roster.setIfVersion!(user, edits, last.ver)));
      if (result !== "conflict") return remember(deps, user, result.ver, items, body, outcomeOf(username, user, result, edits.length, diff.unchanged));
    }
  }
  const replaced = await replaceRoster(deps, username, user, wanted());
  return replaced && remember(deps, user, replaced.ver, items, body, replaced);
}

/** The number of contacts in a canonicalRoster() string. */
const countCanonical = (canonical: string): number => (JSON.parse(canonical) as unknown[]).length;

/** Record what was applied (or forget it without a version); a failing store is logged, the sync stands. */
async function remember(
  deps: VersionDeps,
  user: string,
  ver: string | undefined,
  items: string,
  body: string | undefined,
  outcome: SyncOutcome,
): Promise<SyncOutcome> {
  const done = ver ? deps.applied.set(user, { ver, items, ...(body ? { body } : {}) }) : deps.applied.delete(user);
  await Promise.resolve(done).catch((err: unknown) => deps.log.warn({ user, err }, "recording the applied roster failed"));
  return outcome;
}

/** `fn`, its failure a RosterSyncError of `reason`. */
async function attempt<T>(username: string, user: string, reason: "roster-get" | "roster-set", doing: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new RosterSyncError(username, reason, `${doing} of ${user}: ${(err as Error).message}`, { cause: err });
  }
}

/** Whether the roster replaces in one request (then no roster get: the server compares). */
export const canReplace = (roster: RosterAccess): boolean => !!roster.replace && (roster.batchSize ?? 0) > 0;

/** The server's roster of `user` (the bare JID of `username`). */
export async function getRoster({ roster, pipeline }: StrategyDeps, username: string, user: string): Promise<RosterItem[]> {
  try {
    return await pipeline(() => roster.get(user));
  } catch (err) {
    throw new RosterSyncError(username, "roster-get", `getting the roster of ${user}: ${(err as Error).message}`, { cause: err });
  }
}

/** The whole web roster in one request; undefined when the roster cannot replace after all (then: diff). */
export async function replaceRoster(
  { roster, pipeline }: StrategyDeps,
  username: string,
  user: string,
  wanted: RosterItem[],
): Promise<(SyncOutcome & { ver?: string | undefined }) | undefined> {
  const result = await attempt(username, user, "roster-set", "replacing the roster", () => pipeline(() => roster.replace!(user, wanted)));
  if (!result) return undefined;
  return { ...outcomeOf(username, user, result, wanted.length, result.unchanged), ver: result.ver };
}

/** The outcome of one batch request, or the RosterSyncError naming what the server refused. */
function outcomeOf(username: string, user: string, result: RosterReplaceResult, sent: number, unchanged: number): SyncOutcome {
  if (result.refused.length) {
    const first = result.refused[0]!;
    const what = result.applied.length ? `; ${result.applied.length} changes were applied` : "";
    throw new RosterSyncError(
      username,
      "roster-set",
      `the server refused ${result.refused.length} of ${sent} contacts for ${user} (first: ${first.jid}: ${first.error})${what}`,
      { applied: result.applied },
    );
  }
  return { added: result.added, changed: result.changed, removed: result.removed, unchanged, requests: 1 };
}

/** Diff `current` against `wanted` and set only what differs; a failed set fails the sync, naming what was applied. */
export async function syncByDiff(deps: StrategyDeps, username: string, user: string, current: RosterItem[], wanted: RosterItem[]): Promise<SyncOutcome> {
  const diff = diffRoster(current, wanted, { compareSubscription: deps.roster.honoursSubscription });
  const edits = toEdits(diff);
  const { outcomes, requests } = await applyEdits(deps, user, edits);
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

function toEdits(diff: RosterDiff): RosterEdit[] {
  return [
    ...diff.add.map((item): RosterEdit => ({ item, change: "add" })),
    ...diff.change.map((item): RosterEdit => ({ item, change: "change" })),
    ...diff.remove.map((jid): RosterEdit => ({ item: { jid, subscription: "remove", groups: [] }, change: "remove" })),
  ];
}

/** Per edit: undefined when the server applied it, or the error. In batches when the roster can, else one set each. */
async function applyEdits(
  { roster, pipeline }: StrategyDeps,
  user: string,
  edits: RosterEdit[],
): Promise<{ outcomes: (Error | undefined)[]; requests: number }> {
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
