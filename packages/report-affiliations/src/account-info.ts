// When an account was made, asked of its server, for XEP-0489's `since` where the server can tell it:
// Prosody 13 with the companion module mod_xmppkit_account_info (shipped in this package's prosody/ folder).
// Without it a component cannot read account data over XMPP; the server advertises it on its disco#info
// (XEP-0030), and the answer's `created` is a XEP-0082 DateTime.
//
//   <iq type="get" to="example.org"><query xmlns="urn:xmppkit:account-info:0"><account user="alice"/></query></iq>
//   → <query xmlns="urn:xmppkit:account-info:0"><account user="alice" created="2026-11-20T10:11:12Z"/></query>
//   → item-not-found (no such account), forbidden (no XEP-0356 roster "get"/"both" grant for us), …
//
// Answers are cached per account (an lru-cache with a TTL, which also shares one question among concurrent
// askers); a lookup never waits longer than its timeout and never throws: whatever goes wrong, the XEP-0489
// answer just goes without `since`.
// https://xmpp.org/extensions/xep-0489.html · https://xmpp.org/extensions/xep-0030.html ·
// https://xmpp.org/extensions/xep-0082.html · https://xmpp.org/extensions/xep-0356.html
import { LRUCache } from "lru-cache";
import { StanzaError, hasFeature, domainOf, parseJid, silentLogger, xml, type Element, type Iq, type IqRequestOptions, type Logger } from "@xmppkit/core";

export const NS_ACCOUNT_INFO = "urn:xmppkit:account-info:0";

const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Whether `server` advertises the account info feature on its disco#info (false when it does not answer). */
export async function supportsAccountInfo(iq: Iq, server: string, options: IqRequestOptions = {}): Promise<boolean> {
  return hasFeature(iq, server, NS_ACCOUNT_INFO, options);
}

/**
 * When the account `jid` (a bare JID) was created, asked of its server. Undefined when the account does not
 * exist or has no recorded date (made before Prosody 13); rejects with the server's StanzaError otherwise,
 * or with a timeout.
 */
export async function queryAccountCreated(iq: Iq, jid: string, options: IqRequestOptions = {}): Promise<Date | undefined> {
  const parsed = parseJid(jid);
  if (!parsed?.local) throw new TypeError(`not a user's JID: ${JSON.stringify(jid)}`);
  let payload: Element | undefined;
  try {
    payload = await iq.get(xml("query", NS_ACCOUNT_INFO, xml("account", { user: parsed.local })), parsed.domain, options);
  } catch (err) {
    if (StanzaError.isInstance(err) && err.condition === "item-not-found") return undefined;
    throw err;
  }
  const created = payload?.getChild("account")?.attrs.created as string | undefined;
  if (created === undefined) return undefined;
  const date = DATETIME.test(created) ? new Date(created) : new Date(NaN);
  if (Number.isNaN(date.getTime()))
    throw new StanzaError("undefined-condition", "cancel", `created is not a XEP-0082 DateTime: ${JSON.stringify(created.slice(0, 40))}`);
  return date;
}

export interface AccountCreationOptions {
  /** How long an answer is reused, ms (default 1 h; "no such account" at most 1 min, so a new account soon shows). */
  ttl?: number;
  /** Accounts remembered at most (default 10,000; the least recently asked go first). */
  maxEntries?: number;
  /** The longest a lookup waits for the server, ms (default 2 s); then the answer goes without `since`. */
  timeout?: number;
  now?: () => number;
}

export interface AccountCreation {
  /** When `jid` (a bare JID) was created, if its server says so in time; never rejects. */
  created(jid: string): Promise<Date | undefined>;
  /** Ask `server` (or not); check `supportsAccountInfo()` at each (re)connect. A change forgets its cached answers. */
  use(server: string, on: boolean): void;
  /** The servers asked. */
  readonly servers: ReadonlySet<string>;
}

const NEGATIVE_TTL = 60_000;
/** Errors that will not go away by asking again: stop asking that server until the next `use()`. */
const REFUSALS = new Set(["forbidden", "not-allowed", "feature-not-implemented", "service-unavailable", "bad-request"]);

/** Cached, bounded, timed creation-date lookups for `setupReportAffiliations({ accountCreated })`. */
export function accountCreation({ iq, logger }: { iq: Iq; logger?: Logger | undefined }, options: AccountCreationOptions = {}): AccountCreation {
  const log = logger ?? silentLogger();
  const now = options.now ?? Date.now;
  const ttl = options.ttl ?? 3_600_000;
  const timeout = options.timeout ?? 2000;
  const servers = new Set<string>();

  // What went wrong is logged here, once for all the concurrent askers, and the answer is undefined: not cached.
  async function ask(jid: string, server: string, set: { ttl?: number }): Promise<{ created: Date | undefined } | undefined> {
    try {
      const created = await queryAccountCreated(iq, jid, { timeout });
      if (!created) set.ttl = Math.min(ttl, NEGATIVE_TTL);
      return { created };
    } catch (err) {
      const condition = StanzaError.isInstance(err) ? err.condition : undefined;
      if (condition && REFUSALS.has(condition) && servers.delete(server)) {
        forget(server);
        log.warn(
          { server, condition, error: (err as Error).message },
          "the server refuses account creation times: XEP-0489 answers go without since until the next connect",
        );
      } else {
        log.debug({ jid, error: (err as Error).message }, "no account creation time: answering without since");
      }
      return undefined;
    }
  }

  // A TTL of 0 keeps nothing (concurrent askers still share one question).
  const keeps = ttl > 0;
  // Least recently asked out first; an answer is { created }, "no such account" included (with its shorter TTL).
  const cache = new LRUCache<string, { created: Date | undefined }, string>({
    max: Math.max(1, options.maxEntries ?? 10_000),
    ttl: keeps ? Math.ceil(ttl) : 1,
    ttlResolution: 0, // read the clock at every lookup (an injected or faked clock moves in steps)
    perf: { now },
    // A lookup in flight when its entry is evicted still answers its askers, just without being cached.
    ignoreFetchAbort: true,
    fetchMethod: (jid, _stale, { options: set, context: server }) => ask(jid, server, set),
  });

  function forget(server: string) {
    for (const jid of [...cache.keys()]) if (domainOf(jid) === server) cache.delete(jid);
  }

  return {
    servers,
    use(server, on) {
      if (on === servers.has(server)) return;
      forget(server);
      if (on) servers.add(server);
      else servers.delete(server);
    },
    async created(jid) {
      const server = domainOf(jid);
      if (!server || !servers.has(server)) return undefined;
      try {
        const answer = await cache.fetch(jid, { context: server });
        if (!keeps) cache.delete(jid);
        return answer?.created;
      } catch {
        return undefined; // aborted by an eviction, having failed: the failure is logged already
      }
    },
  };
}
