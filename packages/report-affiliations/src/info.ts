// The XEP-0489 `<info/>` element: what a server vouches for about one of its accounts.
//
//   <info xmlns="urn:xmpp:raa:0" affiliation="registered" since="2024-11-22T00:00:00Z" trust="50"/>
//
// Only the XEP's values are emitted (`anonymous`, `registered`, `member`, `admin`; Prosody's module emits
// `guest`), `since` is rounded down to the UTC day, `trust` is an integer 0–100.
// https://xmpp.org/extensions/xep-0489.html
import { XmppkitError, formatDateTime, xml, type Element } from "@xmppkit/core";

export const NS_RAA = "urn:xmpp:raa:0";
/** Stanza kinds an entity may stamp, and the disco feature that says it does. */
export const EMBED_FEATURES = {
  "presence-sub": `${NS_RAA}#embed-presence-sub`,
  "presence-directed": `${NS_RAA}#embed-presence-directed`,
  message: `${NS_RAA}#embed-message`,
} as const;
export type EmbedKind = keyof typeof EMBED_FEATURES;

export const AFFILIATIONS = ["anonymous", "registered", "member", "admin"] as const;
export type Affiliation = (typeof AFFILIATIONS)[number];

export interface AffiliationInfo {
  affiliation: Affiliation;
  /** When the account was created (rounded down to the UTC day when sent). */
  since?: Date | undefined;
  /** 0–100. */
  trust?: number | undefined;
}

export class InfoParseError extends XmppkitError {
  static override readonly brand = "InfoParseError";
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
  }
}

export const isAffiliation = (v: unknown): v is Affiliation => typeof v === "string" && (AFFILIATIONS as readonly string[]).includes(v);

/** Midnight UTC of the day `date` falls on. */
export function utcDay(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
}

export function infoElement(info: AffiliationInfo): Element {
  if (!isAffiliation(info.affiliation)) throw new TypeError(`not a XEP-0489 affiliation: ${JSON.stringify(info.affiliation)}`);
  const attrs: Record<string, string> = { xmlns: NS_RAA, affiliation: info.affiliation };
  if (info.since && !Number.isNaN(info.since.getTime())) attrs.since = formatDateTime(utcDay(info.since));
  if (info.trust !== undefined && Number.isFinite(info.trust)) attrs.trust = String(Math.max(0, Math.min(100, Math.floor(info.trust))));
  return xml("info", attrs);
}

/** Read an `<info/>`; anything outside the XEP's value space is an InfoParseError, never a guess. */
export function parseInfo(el: Element): AffiliationInfo {
  if (el.name !== "info" || el.attrs.xmlns !== NS_RAA) throw new InfoParseError(`not a XEP-0489 <info/>: <${el.name} xmlns="${el.attrs.xmlns ?? ""}">`);
  const { affiliation, since, trust } = el.attrs as Record<string, string | undefined>;
  if (!isAffiliation(affiliation))
    throw new InfoParseError(`affiliation must be one of ${AFFILIATIONS.join(", ")} (got ${JSON.stringify(affiliation ?? null)})`);
  const info: AffiliationInfo = { affiliation };
  if (since !== undefined) {
    const d = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(since) ? new Date(since) : new Date(NaN);
    if (Number.isNaN(d.getTime())) throw new InfoParseError(`since is not a XEP-0082 DateTime: ${JSON.stringify(since.slice(0, 40))}`);
    info.since = d;
  }
  if (trust !== undefined) {
    if (!/^\d{1,3}$/.test(trust) || Number(trust) > 100) throw new InfoParseError(`trust must be an integer 0–100 (got ${JSON.stringify(trust.slice(0, 10))})`);
    info.trust = Number(trust);
  }
  return info;
}

/** Replace any `<info xmlns="urn:xmpp:raa:0"/>` in `stanza` with `info` (or just strip it when undefined). */
export function replaceInfo(stanza: Element, info: Element | undefined): Element {
  stanza.children = stanza.children.filter((c) => typeof c === "string" || !((c as Element).name === "info" && (c as Element).attrs.xmlns === NS_RAA));
  if (info) stanza.append(info);
  return stanza;
}
