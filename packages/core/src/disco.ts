// XEP-0030 Service Discovery: the entity's identity and the features of the loaded modules.
// https://xmpp.org/extensions/xep-0030.html
import { IqNotRoutedError, StanzaError } from "./errors.js";
import type { Iq, IqRequestOptions } from "./iq.js";
import { sleep } from "./sleep.js";
import { xml, type Element } from "./xml.js";

export const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
export const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";

export interface Identity {
  category: string;
  type: string;
  name?: string;
}

export interface DiscoInfo {
  identities: Identity[];
  features: string[];
  /** XEP-0128 extension forms. */
  extensions?: Element[];
}

/** Answers disco#info for one node (or node prefix); return undefined for item-not-found. */
export type NodeInfoProvider = (node: string, from: string) => DiscoInfo | undefined;

export interface Disco {
  addIdentity(identity: Identity): void;
  addFeature(...features: string[]): void;
  addItem(item: { jid: string; name?: string; node?: string }): void;
  /** Answer disco#info for nodes starting with `prefix` (the `node` attribute is kept in the reply). */
  addNode(prefix: string, provider: NodeInfoProvider): void;
  /** The entity's own (node-less) info. */
  info(): DiscoInfo;
}

export function setupDisco({ iq }: { iq: Iq }): Disco {
  const identities: Identity[] = [];
  const features = new Set<string>([NS_DISCO_INFO, NS_DISCO_ITEMS]);
  const items: { jid: string; name?: string; node?: string }[] = [];
  const nodes: { prefix: string; provider: NodeInfoProvider }[] = [];

  // The entity's own features, sorted once per change rather than once per disco#info.
  let sortedFeatures: string[] | undefined;
  const ownInfo = (): DiscoInfo => {
    if (!sortedFeatures) sortedFeatures = [...features].sort();
    return { identities, features: sortedFeatures };
  };

  iq.handle("get", NS_DISCO_INFO, "query", ({ element, from }) => {
    const node = element.attrs.node as string | undefined;
    if (!node) return queryElement(ownInfo());
    let info: DiscoInfo | undefined;
    for (const n of nodes) {
      if (node.startsWith(n.prefix)) {
        info = n.provider(node, from);
        if (info) break;
      }
    }
    if (!info) return errorItemNotFound();
    return infoElement(info, node);
  });

  iq.handle("get", NS_DISCO_ITEMS, "query", ({ element }) => {
    if (element.attrs.node) return errorItemNotFound();
    return xml("query", NS_DISCO_ITEMS, ...items.map((i) => xml("item", { ...i })));
  });

  return {
    addIdentity: (identity) => void identities.push(identity),
    addFeature: (...f) => {
      for (const x of f) features.add(x);
      sortedFeatures = undefined;
    },
    addItem: (item) => void items.push(item),
    addNode: (prefix, provider) => void nodes.push({ prefix, provider }),
    info: () => ({ identities: [...identities], features: [...features] }),
  };
}

export function infoElement(info: DiscoInfo, node?: string): Element {
  return queryElement({ ...info, features: [...new Set(info.features)].sort() }, node);
}

/** infoElement() for features already unique and sorted (the entity's own, cached). */
function queryElement(info: DiscoInfo, node?: string): Element {
  return xml(
    "query",
    { xmlns: NS_DISCO_INFO, ...(node ? { node } : {}) },
    ...info.identities.map((i) => xml("identity", { category: i.category, type: i.type, ...(i.name ? { name: i.name } : {}) })),
    ...info.features.map((f) => xml("feature", { var: f })),
    ...(info.extensions ?? []),
  );
}

function errorItemNotFound() {
  return xml("error", { type: "cancel" }, xml("item-not-found", "urn:ietf:params:xml:ns:xmpp-stanzas"));
}

/**
 * Whether `jid` (a server, say) advertises `feature` on its disco#info: how a companion module of the server
 * is found. False when it answers without it, with an error, or does not answer (default timeout 10 s) or the
 * server does not route the query. `tries`: how often to ask when no answer came (1 s, 2 s … apart), where a
 * wrong "no" costs more than a later one.
 */
export async function hasFeature(iq: Iq, jid: string, feature: string, options: IqRequestOptions & { tries?: number } = {}): Promise<boolean> {
  const { tries = 1, ...request } = options;
  for (let i = 1; ; i++) {
    try {
      const info = await iq.get(xml("query", NS_DISCO_INFO), jid, { timeout: 10_000, ...request });
      return !!info?.getChildren("feature").some((f) => f.attrs.var === feature);
    } catch (err) {
      // An error answer is a definite one, and so is a query the server is known to drop.
      if (StanzaError.isInstance(err) || IqNotRoutedError.isInstance(err) || i >= tries) return false;
      await sleep(1000 * i);
    }
  }
}
