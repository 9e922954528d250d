// What has to change in a user's server roster to match the web application's, item by item. Prosody's
// module diffs only the keys, so a renamed contact or a changed group never reaches the server; here a
// change of name, groups or subscription is an update, and an unchanged roster needs no roster set at all
// (so the server sends no roster push).
import { normalizeJid, type RosterItem } from "@xmppkit/core";

export interface RosterDiff {
  /** In the web roster, not on the server. */
  add: RosterItem[];
  /** On both, with another name, other groups, or (when compared) another subscription. */
  change: RosterItem[];
  /** On the server, not in the web roster (JIDs). */
  remove: string[];
  unchanged: number;
}

export interface DiffOptions {
  /**
   * Compare subscriptions too (default true). Turn off on servers that ignore `subscription` in privileged
   * roster sets (ejabberd), or every sync would rewrite every item, and for a client's own roster.
   */
  compareSubscription?: boolean;
}

const sameGroups = (a: string[], b: string[]) => {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((g) => set.has(g));
};

export function sameItem(current: RosterItem, wanted: RosterItem, options: DiffOptions = {}): boolean {
  return (
    (current.name ?? "") === (wanted.name ?? "") &&
    sameGroups(current.groups, wanted.groups) &&
    (options.compareSubscription === false || (current.subscription ?? "none") === (wanted.subscription ?? "none"))
  );
}

export function diffRoster(current: RosterItem[], wanted: RosterItem[], options: DiffOptions = {}): RosterDiff {
  const now = new Map<string, RosterItem>();
  for (const item of current) now.set(normalizeJid(item.jid) ?? item.jid, item);
  const diff: RosterDiff = { add: [], change: [], remove: [], unchanged: 0 };
  const seen = new Set<string>();
  for (const item of wanted) {
    const key = normalizeJid(item.jid) ?? item.jid;
    seen.add(key);
    const existing = now.get(key);
    if (!existing) diff.add.push(item);
    else if (!sameItem(existing, item, options)) diff.change.push(item);
    else diff.unchanged++;
  }
  for (const [key, item] of now) if (!seen.has(key)) diff.remove.push(item.jid);
  return diff;
}
