// A component's own stanzas carry its XEP-0489 `<info/>`: subscription requests, directed presence and
// messages to non-contacts (any `<info/>` already there is replaced; stanzas to contacts are left bare).
// Only the `#embed-*` features of what is stamped are advertised, on the component's own disco.
// https://xmpp.org/extensions/xep-0489.html
import { bareJid, isBareJid, type Disco, type Stanzas } from "@xmppkit/core";
import { embedKind } from "./embed-kind.js";
import { EMBED_FEATURES, NS_RAA, infoElement, replaceInfo, type AffiliationInfo, type EmbedKind } from "./info.js";

export interface StampingOptions {
  /** Which kinds of stanza are stamped. */
  stamp: EmbedKind[];
  self: AffiliationInfo;
  /** Is `to` a contact of our `from`? Default: whoever approved our subscription. */
  isContact?: ((from: string, to: string) => boolean) | undefined;
}

/** Advertise what is stamped, then stamp outgoing stanzas; returns what undoes the stanza hooks. */
export function stampOwnStanzas({ stanzas, disco }: { stanzas: Stanzas; disco: Pick<Disco, "addFeature"> }, options: StampingOptions): (() => void)[] {
  const stamp = new Set(options.stamp);
  disco.addFeature(NS_RAA, ...[...stamp].map((k) => EMBED_FEATURES[k]));
  const approvals = trackApprovals(stanzas);
  const isContact = options.isContact ?? approvals.isContact;
  const offOutgoing = stanzas.onOutgoing((s) => {
    const k = embedKind(s);
    if (!k || !stamp.has(k)) return;
    const from = String(s.attrs.from); // core gives a component's stanzas its domain
    const to = String(s.attrs.to ?? "");
    const contact = to && (k !== "presence-directed" || isBareJid(to)) && isContact(from, to);
    replaceInfo(s, contact ? undefined : infoElement(options.self));
    return s;
  });
  return [approvals.off, offOutgoing];
}

/** Contacts: whoever approved our subscription (the component keeps no roster of its own). */
export function trackApprovals(stanzas: Pick<Stanzas, "onIncoming">): { isContact(from: string, to: string): boolean; off(): void } {
  const approved = new Set<string>();
  const off = stanzas.onIncoming((s) => {
    if (s.name !== "presence" || (s.attrs.type !== "subscribed" && s.attrs.type !== "unsubscribed")) return;
    const key = `${bareJid(s.attrs.to)}\n${bareJid(s.attrs.from)}`;
    if (s.attrs.type === "subscribed") approved.add(key);
    else approved.delete(key);
  });
  return { isContact: (from, to) => approved.has(`${bareJid(from)}\n${bareJid(to)}`), off };
}
