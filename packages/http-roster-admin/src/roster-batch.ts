// Many roster edits of one user in one privileged IQ, for Prosody with the companion module
// mod_xmppkit_roster_batch (shipped in this package's prosody/ folder). mod_privilege alone takes one item
// per roster set and saves the whole roster after each (XEP-0356 §5, https://xmpp.org/extensions/xep-0356.html);
// the companion applies all items of a set and saves once. The server advertises it on its disco#info
// (XEP-0030, https://xmpp.org/extensions/xep-0030.html); without it every edit is its own XEP-0356 set.
// It also versions each roster (in the spirit of XEP-0237, https://xmpp.org/extensions/xep-0237.html): a get
// answers the version alone, and a set with `if-ver` is applied only while the roster is still at it.
import { StanzaError, hasFeature, rosterItemElement, xml, type Element, type Iq, type IqRequestOptions, type RosterItem } from "@xmppkit/core";
import type { RosterChange } from "./roster-access.js";

export const NS_ROSTER_BATCH = "urn:xmppkit:roster-batch:0";

/** The companion module refuses sets of more items than this by default (its `roster_batch_max_items`). */
export const ROSTER_BATCH_MAX = 1000;

export interface RosterEdit {
  item: RosterItem;
  change: RosterChange;
}

/** Whether `server` advertises the roster batch feature on its disco#info (false when it does not answer). */
export async function supportsRosterBatch(iq: Iq, server: string, options: IqRequestOptions = {}): Promise<boolean> {
  return hasFeature(iq, server, NS_ROSTER_BATCH, options);
}

/**
 * What the server did with a replace or a batch: the changes it applied, the items it refused, how many were
 * equal, and the roster's version after it (absent from a module without versions).
 */
export interface RosterReplaceResult {
  /** The changes, each named: always from a module of before the counts, else only beside a refusal. */
  applied: { jid: string; change: RosterChange }[];
  refused: { jid: string; error: string }[];
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
  ver?: string | undefined;
}

/**
 * The batch set's payload: each edit as a roster item (a removal as subscription "remove"). With `ifVer`
 * the server applies it only while the roster is still at that version (else a `conflict` error).
 */
export function rosterBatchElement(edits: readonly RosterEdit[], { ifVer }: { ifVer?: string } = {}): Element {
  const items = edits.map(({ item, change }) => rosterItemElement(change === "remove" ? { jid: item.jid, subscription: "remove", groups: [] } : item));
  return xml("query", ifVer === undefined ? { xmlns: NS_ROSTER_BATCH } : { xmlns: NS_ROSTER_BATCH, "if-ver": ifVer }, ...items);
}

/** The get whose answer is the roster's version alone. */
export const rosterVersionElement = (): Element => xml("query", NS_ROSTER_BATCH);

/** The version in the server's answer to a get or a set, or undefined when it gave none. */
export function rosterVersion(reply: Element | undefined): string | undefined {
  const ver = reply?.attrs.ver;
  return typeof ver === "string" && ver ? ver : undefined;
}

/** The payload that makes `items` the user's whole roster: the server removes the rest and skips equal items. */
export function rosterReplaceElement(items: readonly RosterItem[]): Element {
  return xml("query", { xmlns: NS_ROSTER_BATCH, replace: "true" }, ...items.map(rosterItemElement));
}

const CHANGES = new Set<string>(["add", "change", "remove"]);

/** The server's answer to a replace or a versioned batch. */
export function rosterReplaceResult(reply: Element | undefined): RosterReplaceResult {
  const applied: RosterReplaceResult["applied"] = [];
  const refused: RosterReplaceResult["refused"] = [];
  for (const item of reply?.getChildren("item") ?? []) {
    const jid = String(item.attrs.jid ?? "");
    if (item.attrs.error) refused.push({ jid, error: String(item.attrs.error) });
    else if (CHANGES.has(item.attrs.change)) applied.push({ jid, change: item.attrs.change as RosterChange });
  }
  const counted = (attr: string, change: RosterChange) =>
    reply?.attrs[attr] !== undefined ? Number(reply.attrs[attr]) || 0 : applied.filter((a) => a.change === change).length;
  return {
    applied,
    refused,
    added: counted("added", "add"),
    changed: counted("changed", "change"),
    removed: counted("removed", "remove"),
    unchanged: Number(reply?.attrs.unchanged) || 0,
    ver: rosterVersion(reply),
  };
}

/** Per edit: undefined when applied, or the StanzaError the server gave for that item. */
export function rosterBatchOutcomes(edits: readonly RosterEdit[], reply: Element | undefined): (StanzaError | undefined)[] {
  const refused = new Map<string, string>();
  for (const item of reply?.getChildren("item") ?? []) if (item.attrs.error) refused.set(String(item.attrs.jid ?? ""), String(item.attrs.error));
  return edits.map(({ item }) => {
    const condition = refused.get(item.jid);
    return condition ? new StanzaError(condition, "modify", `the server refused ${item.jid}`) : undefined;
  });
}
