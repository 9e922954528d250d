// What the gateway last applied to each user's roster on the server: the web roster in a canonical form and
// the server's roster version right after. When the web app answers the same roster again and the server's
// version has not moved, nothing has to be read or written; when the web roster changed, the difference
// from the last applied one is sent, applied only if the server's roster is still at that version.
// Kept in the gateway's store (any `KeyValue`, so it survives restarts and is shared by an active/standby
// pair); in memory by default, for bots.
import { normalizeJid, type KeyValue, type RosterItem } from "@xmppkit/core";
import { LRUCache } from "lru-cache";

export interface AppliedRoster {
  /** The server's roster version after the roster was applied. */
  ver: string;
  /** `canonicalRoster()` of what was applied. */
  items: string;
  /**
   * The digest of the web app's answer that gave `items`, when every contact in it was taken: the same
   * answer again is then not parsed (its items are `items`).
   */
  body?: string | undefined;
}

/** Where applied rosters are kept, by bare JID: a store's `kv()` fits. */
export type AppliedRosters = Pick<KeyValue<AppliedRoster>, "get" | "set" | "delete">;

/** The applied rosters of the last `max` users (default 10,000), in memory. */
export function memoryAppliedRosters(max = 10_000): AppliedRosters {
  const cache = new LRUCache<string, AppliedRoster>({ max });
  return {
    get: async (user) => cache.get(user),
    set: async (user, applied) => void cache.set(user, applied),
    delete: async (user) => cache.delete(user),
  };
}

type Entry = [jid: string, name: string, groups: string[], subscription: string];

/**
 * One string per roster content: items sorted by normalized JID, groups sorted, an absent name and
 * subscription "none" written out. Two web answers that differ only in order give the same string.
 */
export function canonicalRoster(items: readonly RosterItem[]): string {
  const entries = items.map((i): Entry => [normalizeJid(i.jid) ?? i.jid, i.name ?? "", [...i.groups].sort(), i.subscription ?? "none"]);
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return JSON.stringify(entries);
}

/** The items of a `canonicalRoster()` string. */
export function rosterFromCanonical(canonical: string): RosterItem[] {
  return (JSON.parse(canonical) as Entry[]).map(([jid, name, groups, subscription]) => ({
    jid,
    ...(name ? { name } : {}),
    groups,
    subscription: subscription as RosterItem["subscription"],
  }));
}
