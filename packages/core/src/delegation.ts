// XEP-0355 Namespace Delegation (admin mode): answer the server's disco#info for delegation nodes, unwrap
// delegated IQs, route them to handlers by namespace, and wrap the replies.
// https://xmpp.org/extensions/xep-0355.html
//
// Rules from real servers:
// - keep the `node` attribute in disco answers (Prosody rejects answers without it); ejabberd only activates
//   a delegation whose two disco nodes (`::ns` and `:bare:ns`) got a result, so answer both;
// - the inner reply is <iq xmlns="jabber:client">, `to` = the forwarded `from`, `from` = the forwarded `to`
//   (omitted when the forwarded IQ had none), same id;
// - an error goes back as an outer *result* wrapping an inner <iq type="error">: an outer error makes the
//   server answer service-unavailable instead.
import { answerDelegated } from "./delegation-iq.js";
import { TypedEmitter, extend, type ListenerErrorHandler } from "./emitter.js";
import type { Disco, DiscoInfo } from "./disco.js";
import type { Iq, IqHandlerContext } from "./iq.js";
import type { Logger } from "./logger.js";
import type { Stanzas } from "./stanzas.js";
import { isServerJid, normalizeJid, type Element } from "./xml.js";

export { innerReply, unwrapDelegated, wrapDelegated } from "./delegation-iq.js";

export const NS_DELEGATION_2 = "urn:xmpp:delegation:2";
export const NS_DELEGATION_1 = "urn:xmpp:delegation:1";

/** A delegated IQ, unwrapped. `from` is the original requester's full JID; `to` may be empty (own account). */
export interface DelegatedIq extends IqHandlerContext {
  /** The server that delegated it. */
  server: string;
  /** The original IQ as the requester sent it. */
  stanza: Element;
}

/** Return a payload element, `true` for an empty result, or throw a StanzaError for an error reply. */
export type DelegatedIqHandler = (iq: DelegatedIq) => Element | true | Promise<Element | true>;

export interface DelegationHandlerOptions {
  /** Features to advertise for the server (`urn:xmpp:delegation:2::ns` node). Default: the namespace. */
  serverFeatures?: string[];
  /** Features to advertise on users' bare JIDs (`:bare:ns` node). Default: the namespace. */
  bareFeatures?: string[];
}

export interface DelegationEvents extends Record<string, unknown> {
  /** A server announced which namespaces it delegates to us. */
  delegated: { server: string; namespace: string; namespaces: string[] };
  /** A delegated IQ was answered. */
  answered: { namespace: string; from: string; to: string; type: "result" | "error"; condition?: string };
  /** A handler threw something other than a StanzaError; the requester got internal-server-error. */
  "handler-error": { namespace: string; error: unknown };
}

export interface Delegation extends TypedEmitter<DelegationEvents> {
  /** Delegated namespaces per server, as announced. */
  readonly delegated: ReadonlyMap<string, ReadonlySet<string>>;
  isDelegated(namespace: string, server?: string): boolean;
  /** Handle delegated IQs whose payload is in `namespace`. */
  handle(namespace: string, handler: DelegatedIqHandler, options?: DelegationHandlerOptions): void;
}

export interface DelegationDeps {
  stanzas: Stanzas;
  iq: Iq;
  disco: Disco;
  /** Server domains whose announcements are believed (see `trustedServerDomains`). */
  trustedServers: ReadonlySet<string>;
  logger?: Logger | undefined;
  onListenerError?: ListenerErrorHandler | undefined;
}

type Handlers = Map<string, { handler: DelegatedIqHandler; options: DelegationHandlerOptions }>;

export function setupDelegation({ stanzas, iq, disco, trustedServers, logger, onListenerError }: DelegationDeps): Delegation {
  const emitter = new TypedEmitter<DelegationEvents>(onListenerError);
  const delegated = new Map<string, Set<string>>();
  const handlers: Handlers = new Map();

  stanzas.onIncoming((stanza) => noteAnnouncement({ delegated, emitter, trustedServers, logger }, stanza));
  // Disco nesting (XEP-0355 §7.2): nodes `urn:xmpp:delegation:N::ns` (server) and `…:bare:ns` (accounts).
  for (const ns of [NS_DELEGATION_2, NS_DELEGATION_1]) {
    disco.addNode(`${ns}:`, (node) => nodeInfo(handlers, node.slice(ns.length + 1)));
  }
  for (const ns of [NS_DELEGATION_2, NS_DELEGATION_1]) {
    iq.handle("set", ns, "delegation", (ctx) => answerDelegated({ delegated, handlers, emitter, logger }, ctx));
  }

  return extend(emitter, {
    delegated,
    isDelegated(namespace: string, server?: string) {
      if (server) return delegated.get(server)?.has(namespace) ?? false;
      return [...delegated.values()].some((s) => s.has(namespace));
    },
    handle(namespace: string, handler: DelegatedIqHandler, options: DelegationHandlerOptions = {}) {
      handlers.set(namespace, { handler, options });
    },
  }) as Delegation;
}

interface AnnouncementDeps {
  delegated: Map<string, Set<string>>;
  emitter: TypedEmitter<DelegationEvents>;
  trustedServers: ReadonlySet<string>;
  logger?: Logger | undefined;
}

/** An incoming hook for the announcement: <message from=server><delegation xmlns=…><delegated namespace=…/></delegation></message>. */
function noteAnnouncement({ delegated, emitter, trustedServers, logger }: AnnouncementDeps, stanza: Element): true | undefined {
  if (stanza.name !== "message") return;
  const d = stanza.getChild("delegation", NS_DELEGATION_2) ?? stanza.getChild("delegation", NS_DELEGATION_1);
  if (!d || d.getChild("forwarded")) return;
  const server = normalizeJid(stanza.attrs.from as string | undefined) ?? undefined;
  // Only our own server delegates: a remote server announcing a delegation to itself is ignored.
  if (!isServerJid(server) || !trustedServers.has(server)) {
    logger?.warn({ from: stanza.attrs.from, trusted: [...trustedServers] }, "ignored a XEP-0355 delegation announcement from a sender that is not our server");
    return true;
  }
  const set = delegated.get(server) ?? new Set<string>();
  delegated.set(server, set);
  for (const el of d.getChildren("delegated")) {
    const namespace = el.attrs.namespace as string | undefined;
    if (!namespace) continue;
    set.add(namespace);
    emitter.emit("delegated", { server, namespace, namespaces: [...set] });
  }
  return true;
}

/** The disco#info of a delegation node, from the part after `urn:xmpp:delegation:N:` (`:ns` or `bare:ns`). */
function nodeInfo(handlers: Handlers, rest: string): DiscoInfo | undefined {
  const bare = rest.startsWith("bare:");
  const namespace = bare ? rest.slice("bare:".length) : rest.startsWith(":") ? rest.slice(1) : undefined;
  const h = namespace ? handlers.get(namespace) : undefined;
  if (!namespace || !h) return undefined;
  const features = (bare ? h.options.bareFeatures : h.options.serverFeatures) ?? [namespace];
  return { identities: [], features };
}
