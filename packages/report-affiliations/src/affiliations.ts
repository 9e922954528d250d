// XEP-0489 for an xmpp.js entity:
//
// - Queries. `<iq type="get" to="user@server"><query xmlns="urn:xmpp:raa:0"/></iq>` for the server's users
//   arrive through XEP-0355 delegation of `urn:xmpp:raa:0`; queries to a component's own JIDs arrive
//   directly. Only servers in `trustedServers` (no node; a server's full JID counts) get `<info/>`; everyone
//   else gets `forbidden`. Accounts without a record are answered like any other, so the answer never tells
//   whether an account exists. `since` comes from the source, else from the server where it can say when an
//   account was made (Prosody 13 with mod_xmppkit_account_info: account-info.ts); then, as with Prosody's
//   module, only an existing account's answer has one.
// - Stamping (components). The component's own subscription requests, directed presence and messages to
//   non-contacts carry `<info/>`; any `<info/>` already there is replaced. Only the `#embed-*` features of
//   what is stamped are advertised, on the component's own disco — never for the server's users, whose
//   outgoing stanzas a component cannot see or strip (the delegation disco nodes say `urn:xmpp:raa:0` only).
// - Reading. `readInfo(stanza)` believes an `<info/>` only from a trusted server that advertises embedding
//   for that kind of stanza; `queryAffiliation()` asks a server about one of its accounts.
// https://xmpp.org/extensions/xep-0489.html
import {
  NS_DISCO_INFO,
  StanzaError,
  TypedEmitter,
  bareJid,
  domainOf,
  extend,
  firstChildElement,
  isBareJid,
  silentLogger,
  xml,
  type Delegation,
  type Disco,
  type Element,
  type Iq,
  type Logger,
  type Stanzas,
} from "@xmppkit/core";
import { resolveInfo, type AffiliationSource, type RoleMap } from "./affiliation-source.js";
import { EMBED_FEATURES, NS_RAA, infoElement, parseInfo, replaceInfo, type AffiliationInfo, type EmbedKind } from "./info.js";
import { trustedServer } from "./trusted.js";

export interface ReportAffiliationsDeps {
  kind: "client" | "component";
  stanzas: Stanzas;
  iq: Iq;
  disco: Disco;
  delegation?: Delegation | undefined;
  logger?: Logger | undefined;
}

export interface ReportAffiliationsOptions {
  /** Servers (domains) that may query and whose `<info/>` is believed. */
  trustedServers?: string[];
  /** Where the server's users' affiliations come from (default: nobody has a record → registered). */
  source?: AffiliationSource;
  /**
   * When an account was created, where its server can say (`accountCreation(kit).created`: Prosody 13 with
   * mod_xmppkit_account_info); `since` for registered and anonymous accounts the source gives none for.
   * Should resolve within a short time and never reject (undefined: no `since`).
   */
  accountCreated?: (jid: string) => Promise<Date | undefined>;
  roles?: RoleMap;
  /** `trust` for registered and anonymous accounts without one from the source (default 50, as Prosody). */
  defaultTrust?: number;
  /** The server is an anonymous host: every account is `anonymous`. */
  anonymousHost?: boolean;
  /** Component only: which of its own stanzas carry `<info/>` (default presence-sub, presence-directed). */
  stamp?: EmbedKind[];
  /** The component's own affiliation, for its stanzas and queries to its JIDs (default member). */
  self?: AffiliationInfo;
  /** Is `to` a contact of our `from`? Stanzas to contacts are not stamped. Default: whoever approved our subscription. */
  isContact?: (from: string, to: string) => boolean;
  /** Believe `<info/>` only when the sender's server advertises the embed feature (default true). */
  checkEmbedFeatures?: boolean;
  /** How long a server's advertised features are reused, ms (default 1 h). */
  featureCacheTtl?: number;
  now?: () => number;
}

export type QueryOutcome = "answered" | "forbidden" | "error";

export interface ReportAffiliationsEvents extends Record<string, unknown> {
  /** A XEP-0489 query was answered (or refused). */
  queried: { requester: string; jid: string; via: "delegation" | "direct"; outcome: QueryOutcome; affiliation?: string; error?: string };
}

export interface TrustedInfo extends AffiliationInfo {
  /** The server that vouched. */
  server: string;
  /** The stanza kind it was embedded in. */
  kind: EmbedKind;
}

export interface ReportAffiliations extends TypedEmitter<ReportAffiliationsEvents> {
  readonly trustedServers: ReadonlySet<string>;
  /** The `<info/>` the server would give for one of its users (bare JID). */
  infoFor(jid: string): Promise<AffiliationInfo>;
  /** The `<info/>` in an incoming stanza, if a trusted server put it there for that kind of stanza. */
  readInfo(stanza: Element): Promise<TrustedInfo | undefined>;
  stop(): void;
}

/** Which embed feature covers a stanza, if any (XEP-0489 §Embedding). */
export function embedKind(stanza: Element): EmbedKind | undefined {
  const type = stanza.attrs.type as string | undefined;
  const to = stanza.attrs.to as string | undefined;
  if (stanza.name === "presence") {
    if (type === "subscribe") return "presence-sub";
    if (type === undefined && to) return "presence-directed";
    return undefined;
  }
  // Not a message to a server itself (the XEP-0356 wrapper a component sends its server, for one).
  if (stanza.name === "message" && type !== "groupchat" && type !== "error" && to?.includes("@")) return "message";
  return undefined;
}

/** Ask `jid`'s server what it vouches for (XEP-0489 query); a component passes its `from`. */
export async function queryAffiliation({ iq }: { iq: Iq }, jid: string, options: { from?: string; timeout?: number } = {}): Promise<AffiliationInfo> {
  const reply = await iq.request(
    xml("iq", { type: "get", to: jid, ...(options.from ? { from: options.from } : {}) }, xml("query", NS_RAA)),
    options.timeout ? { timeout: options.timeout } : {},
  );
  const payload = firstChildElement(reply);
  const info = payload?.name === "info" ? payload : payload?.getChild("info", NS_RAA);
  if (!info) throw new StanzaError("undefined-condition", "cancel", 'the answer carries no <info xmlns="urn:xmpp:raa:0"/>');
  return parseInfo(info);
}

export function setupReportAffiliations(deps: ReportAffiliationsDeps, options: ReportAffiliationsOptions = {}): ReportAffiliations {
  const { kind, stanzas, iq, disco, delegation } = deps;
  const log = deps.logger ?? silentLogger();
  const emitter = new TypedEmitter<ReportAffiliationsEvents>();
  const trusted = new Set(options.trustedServers ?? []);
  const now = options.now ?? Date.now;
  const self = options.self ?? { affiliation: "member" };
  const stamp = new Set<EmbedKind>(kind === "component" ? (options.stamp ?? ["presence-sub", "presence-directed"]) : []);
  const offs: (() => void)[] = [];

  async function infoFor(jid: string): Promise<AffiliationInfo> {
    const record = options.source ? await options.source(jid) : undefined;
    const info = resolveInfo(record, {
      ...(options.roles ? { roles: options.roles } : {}),
      ...(options.defaultTrust !== undefined ? { defaultTrust: options.defaultTrust } : {}),
      anonymousHost: options.anonymousHost ?? false,
    });
    // The server's record of the account's creation, where the source gave none (its own `since` wins) and
    // the affiliation carries one (registered and anonymous, as resolveInfo; an anonymous host's sessions
    // are no accounts, with nothing to ask for).
    const carriesSince = info.affiliation === "registered" || info.affiliation === "anonymous";
    if (!options.accountCreated || info.since || !carriesSince || options.anonymousHost) return info;
    const created = await options.accountCreated(jid).catch(() => undefined);
    return created ? { ...info, since: created } : info;
  }

  async function answer(requester: string, target: string, via: "delegation" | "direct", lookup: () => Promise<AffiliationInfo>): Promise<Element> {
    const jid = bareJid(target) ?? target;
    if (!trustedServer(requester, trusted)) {
      emitter.emit("queried", { requester, jid, via, outcome: "forbidden" });
      throw new StanzaError("forbidden", "auth");
    }
    try {
      const info = await lookup();
      emitter.emit("queried", { requester, jid, via, outcome: "answered", affiliation: info.affiliation });
      return infoElement(info);
    } catch (err) {
      const error = (err as Error).message;
      log.error({ jid, requester, error }, "could not look up an affiliation");
      emitter.emit("queried", { requester, jid, via, outcome: "error", error });
      throw new StanzaError("internal-server-error", "wait", "the affiliation source is unavailable");
    }
  }

  // Queries for the server's users, delegated by the server.
  delegation?.handle(
    NS_RAA,
    async (ctx) => {
      if (ctx.type !== "get" || ctx.element.name !== "query")
        throw new StanzaError("bad-request", "modify", 'XEP-0489 defines only <iq type="get"><query/></iq>');
      const target = ctx.to || ctx.server;
      if (!isBareJid(bareJid(target) ?? "") || domainOf(target) !== ctx.server) throw new StanzaError("item-not-found", "cancel");
      return answer(ctx.from, target, "delegation", () => infoFor(bareJid(target)!));
    },
    { serverFeatures: [NS_RAA], bareFeatures: [NS_RAA] },
  );

  if (kind === "component") {
    // Queries to the component's own JIDs.
    iq.handle("get", NS_RAA, "query", (ctx) => answer(ctx.from, ctx.to, "direct", async () => self));
    disco.addFeature(NS_RAA, ...[...stamp].map((k) => EMBED_FEATURES[k]));

    // Contacts: whoever approved our subscription (the component keeps no roster of its own).
    const approved = new Set<string>();
    const isContact = options.isContact ?? ((from: string, to: string) => approved.has(`${bareJid(from)}\n${bareJid(to)}`));
    offs.push(
      stanzas.onIncoming((s) => {
        if (s.name !== "presence" || (s.attrs.type !== "subscribed" && s.attrs.type !== "unsubscribed")) return;
        const key = `${bareJid(s.attrs.to)}\n${bareJid(s.attrs.from)}`;
        if (s.attrs.type === "subscribed") approved.add(key);
        else approved.delete(key);
      }),
      stanzas.onOutgoing((s) => {
        const k = embedKind(s);
        if (!k || !stamp.has(k)) return;
        const from = String(s.attrs.from); // core gives a component's stanzas its domain
        const to = String(s.attrs.to ?? "");
        const contact = to && (k !== "presence-directed" || isBareJid(to)) && isContact(from, to);
        replaceInfo(s, contact ? undefined : infoElement(self));
        return s;
      }),
    );
  }

  // Which embed features a server advertises (cached).
  const features = new Map<string, { set: Set<string>; expires: number }>();
  async function advertised(server: string): Promise<Set<string>> {
    const hit = features.get(server);
    if (hit && hit.expires > now()) return hit.set;
    const info = await iq.get(xml("query", NS_DISCO_INFO), server, { timeout: 30_000 });
    const set = new Set((info?.getChildren("feature") ?? []).map((f) => String(f.attrs.var ?? "")));
    features.set(server, { set, expires: now() + (options.featureCacheTtl ?? 3_600_000) });
    return set;
  }

  async function readInfo(stanza: Element): Promise<TrustedInfo | undefined> {
    const el = stanza.getChild("info", NS_RAA);
    if (!el) return undefined;
    const k = embedKind(stanza);
    const server = domainOf(stanza.attrs.from);
    if (!k || !server || !trusted.has(server)) return undefined;
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
  }

  return extend(emitter, {
    trustedServers: trusted,
    infoFor,
    readInfo,
    stop() {
      for (const off of offs.splice(0)) off();
    },
  });
}
