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
  StanzaError,
  TypedEmitter,
  logListenerErrors,
  extend,
  firstChildElement,
  silentLogger,
  xml,
  type Delegation,
  type Disco,
  type Element,
  type Iq,
  type Logger,
  type Stanzas,
} from "@xmppkit/core";
import { answerQueries } from "./affiliation-queries.js";
import type { AffiliationSource, RoleMap } from "./affiliation-source.js";
import { NS_RAA, parseInfo, type AffiliationInfo, type EmbedKind } from "./info.js";
import { createInfoLookup } from "./info-lookup.js";
import { createInfoReader } from "./info-reader.js";
import { stampOwnStanzas } from "./stamping.js";

export { embedKind } from "./embed-kind.js";

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

/** Answer queries, stamp a component's own stanzas, and read `<info/>`: the parts, composed. */
export function setupReportAffiliations(deps: ReportAffiliationsDeps, options: ReportAffiliationsOptions = {}): ReportAffiliations {
  const { kind, stanzas, iq, disco, delegation } = deps;
  const log = deps.logger ?? silentLogger();
  const emitter = new TypedEmitter<ReportAffiliationsEvents>(logListenerErrors(deps.logger, "a report-affiliations listener failed"));
  const trusted = new Set(options.trustedServers ?? []);
  const self = options.self ?? { affiliation: "member" };
  const infoFor = createInfoLookup(options);
  answerQueries({ kind, iq, delegation, emitter, log }, { trusted, infoFor, self });
  const offs =
    kind === "component"
      ? stampOwnStanzas({ stanzas, disco }, { stamp: options.stamp ?? ["presence-sub", "presence-directed"], self, isContact: options.isContact })
      : [];
  const readInfo = createInfoReader(
    { iq, log },
    { trusted, now: options.now ?? Date.now, checkEmbedFeatures: options.checkEmbedFeatures, featureCacheTtl: options.featureCacheTtl },
  );
  return extend(emitter, {
    trustedServers: trusted,
    infoFor,
    readInfo,
    stop() {
      for (const off of offs.splice(0)) off();
    },
  });
}
