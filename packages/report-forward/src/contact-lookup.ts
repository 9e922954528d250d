// Where to send a report about a JID: its server's XEP-0157 report address, looked up with disco#info and
// cached with a TTL in an lru-cache (the seed has a cache option but never writes the cache).
//
// Fallback (`report_forward_to_origin_fallback`, as the newest seed): the bare domain, when the server
// publishes no address — and, unlike the seed, also when the lookup fails or times out.
// https://xmpp.org/extensions/xep-0157.html
import { NS_DISCO_INFO, StanzaError, xml, type Iq } from "@xmppkit/core";
import { LRUCache } from "lru-cache";
import { reportAddress } from "./contact-addresses.js";

export interface ContactLookupOptions {
  /** ms to wait for the disco#info reply (Prosody: report_forward_contact_lookup_timeout, 180 s). */
  timeout?: number;
  /** How long an answer is reused, in ms (default 1 h). Failed lookups are not cached. */
  ttl?: number;
  /** Most domains kept (Prosody: report_forward_contact_cache_size, 256). */
  cacheSize?: number;
  /** Use the bare domain when there is no published address or the lookup failed (default true). */
  fallback?: boolean;
  now?: () => number;
}

export interface ContactAddress {
  domain: string;
  /** Where to send; undefined when there is none and the fallback is off. */
  address: string | undefined;
  /** "published": from the server's contact info; "fallback": the bare domain. */
  kind: "published" | "fallback" | "none";
  /** Served from the cache. */
  cached: boolean;
  /** Why the lookup failed (timeout, an error reply), when it did. */
  error?: string;
}

export interface ContactLookup {
  lookup(domain: string): Promise<ContactAddress>;
  /** Forget cached answers (all, or one domain's). */
  clear(domain?: string): void;
  readonly size: number;
}

export function createContactLookup({ iq }: { iq: Iq }, options: ContactLookupOptions = {}): ContactLookup {
  const ttl = options.ttl ?? 3_600_000;
  const cacheSize = options.cacheSize ?? 256;
  const fallback = options.fallback ?? true;
  const now = options.now ?? Date.now;
  // A TTL of 0 or no room at all: every lookup asks (concurrent ones still share one question).
  const keeps = ttl > 0 && cacheSize >= 1;
  // The cached value is what the server published, an address or none: "none" is an answer too. A failed lookup
  // rejects, and lru-cache drops a rejected fetch; concurrent lookups of a domain share its one fetch.
  const cache = new LRUCache<string, { published: string | undefined }>({
    max: Math.max(1, cacheSize),
    ttl: keeps ? Math.ceil(ttl) : 1,
    ttlResolution: 0, // read the clock at every lookup (an injected `now` moves in steps)
    perf: { now },
    // An in-flight lookup evicted or cleared still answers its callers, just without being cached.
    ignoreFetchAbort: true,
    fetchMethod: async (domain) => {
      const info = await iq.get(xml("query", NS_DISCO_INFO), domain, { timeout: options.timeout ?? 180_000 });
      return { published: info ? reportAddress(info) : undefined };
    },
  });

  const answer = (domain: string, published: string | undefined, cached: boolean, error?: string): ContactAddress => {
    if (published) return { domain, address: published, kind: "published", cached };
    const base = fallback ? { domain, address: domain, kind: "fallback" as const, cached } : { domain, address: undefined, kind: "none" as const, cached };
    return error ? { ...base, error } : base;
  };

  return {
    async lookup(domain) {
      const status: LRUCache.Status<string, { published: string | undefined }> = {};
      try {
        const hit = await cache.fetch(domain, { status });
        if (!keeps) cache.delete(domain);
        return answer(domain, hit?.published, status.fetch === "hit");
      } catch (err) {
        const why = StanzaError.isInstance(err) ? `${err.condition}${err.text ? ` (${err.text})` : ""}` : (err as Error).message;
        return answer(domain, undefined, false, why);
      }
    },
    clear(domain) {
      if (domain === undefined) cache.clear();
      else cache.delete(domain);
    },
    get size() {
      return cache.size;
    },
  };
}
