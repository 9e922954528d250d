// Reading `<info/>` in incoming stanzas: believed only from a trusted server that advertises embedding it
// for that kind of stanza (its disco features, cached).
// https://xmpp.org/extensions/xep-0489.html
import { NS_DISCO_INFO, domainOf, xml, type Element, type Iq, type Logger } from "@xmppkit/core";
import type { TrustedInfo } from "./affiliations.js";
import { embedKind } from "./embed-kind.js";
import { EMBED_FEATURES, NS_RAA, parseInfo } from "./info.js";

export interface InfoReaderOptions {
  trusted: ReadonlySet<string>;
  /** Believe `<info/>` only when the sender's server advertises the embed feature (default true). */
  checkEmbedFeatures?: boolean | undefined;
  /** How long a server's advertised features are reused, ms (default 1 h). */
  featureCacheTtl?: number | undefined;
  now: () => number;
}

export type InfoReader = (stanza: Element) => Promise<TrustedInfo | undefined>;

export function createInfoReader({ iq, log }: { iq: Pick<Iq, "get">; log: Logger }, options: InfoReaderOptions): InfoReader {
  const advertised = advertisedFeatures(iq, options.featureCacheTtl ?? 3_600_000, options.now);
  return async (stanza) => {
    const el = stanza.getChild("info", NS_RAA);
    if (!el) return undefined;
    const k = embedKind(stanza);
    const server = domainOf(stanza.attrs.from);
    if (!k || !server || !options.trusted.has(server)) return undefined;
    try {
      if (options.checkEmbedFeatures !== false && !(await advertised(server)).has(EMBED_FEATURES[k])) {
        log.debug({ server, kind: k }, "ignoring <info/>: the server does not advertise embedding it");
        return undefined;
      }
      return { ...parseInfo(el), server, kind: k };
    } catch (err) {
      log.debug({ server, error: (err as Error).message }, "ignoring <info/>");
      return undefined;
    }
  };
}

/** Which features a server advertises (XEP-0030), each server's answer reused for `ttl` ms. */
export function advertisedFeatures(iq: Pick<Iq, "get">, ttl: number, now: () => number): (server: string) => Promise<Set<string>> {
  const features = new Map<string, { set: Set<string>; expires: number }>();
  return async (server) => {
    const hit = features.get(server);
    if (hit && hit.expires > now()) return hit.set;
    const info = await iq.get(xml("query", NS_DISCO_INFO), server, { timeout: 30_000 });
    const set = new Set((info?.getChildren("feature") ?? []).map((f) => String(f.attrs.var ?? "")));
    features.set(server, { set, expires: now() + ttl });
    return set;
  };
}
