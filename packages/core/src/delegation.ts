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
import { TypedEmitter, extend, type ListenerErrorHandler } from "./emitter.js";
import type { Disco, DiscoInfo } from "./disco.js";
import { StanzaError } from "./errors.js";
import type { Iq, IqHandlerContext } from "./iq.js";
import type { Logger } from "./logger.js";
import type { Stanzas } from "./stanzas.js";
import { NS_FORWARD, childElements, domainOf, isServerJid, normalizeJid, xml, type Element } from "./xml.js";

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

/** Unwrap a delegation wrapper: the forwarded IQ, or null if the wrapper is malformed. */
export function unwrapDelegated(delegation: Element): Element | null {
  const forwarded = childElements(delegation).filter((c) => c.is("forwarded", NS_FORWARD));
  if (forwarded.length !== 1) return null;
  const iqs = childElements(forwarded[0]!).filter((c) => c.name === "iq");
  if (iqs.length !== 1) return null;
  const inner = iqs[0]!;
  if (inner.attrs.type !== "get" && inner.attrs.type !== "set") return null;
  if (childElements(inner).length < 1) return null;
  return inner;
}

/** The inner reply to a forwarded IQ (result with payload, empty result, or error). */
export function innerReply(forwarded: Element, outcome: Element | true | StanzaError): Element {
  const attrs: Record<string, string> = {
    xmlns: "jabber:client",
    id: forwarded.attrs.id,
    to: forwarded.attrs.from,
  };
  if (forwarded.attrs.to) attrs.from = forwarded.attrs.to;
  if (StanzaError.isInstance(outcome)) {
    // The payload is echoed by name and namespace only: it may be arbitrarily deep.
    const payload = childElements(forwarded)[0];
    const echo = payload ? [xml(payload.name, payload.attrs.xmlns ? { xmlns: payload.attrs.xmlns } : {})] : [];
    return xml("iq", { ...attrs, type: "error" }, ...echo, outcome.toElement());
  }
  return xml("iq", { ...attrs, type: "result" }, ...(outcome === true ? [] : [outcome]));
}

/** The outer wrapper around an inner reply, in the namespace the server used. */
export function wrapDelegated(ns: string, inner: Element): Element {
  return xml("delegation", ns, xml("forwarded", NS_FORWARD, inner));
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

export function setupDelegation({ stanzas, iq, disco, trustedServers, logger, onListenerError }: DelegationDeps): Delegation {
  const emitter = new TypedEmitter<DelegationEvents>(onListenerError);
  const delegated = new Map<string, Set<string>>();
  const handlers = new Map<string, { handler: DelegatedIqHandler; options: DelegationHandlerOptions }>();

  // Announcement: <message from=server><delegation xmlns=…><delegated namespace=…/></delegation></message>
  stanzas.onIncoming((stanza) => {
    if (stanza.name !== "message") return;
    const d = stanza.getChild("delegation", NS_DELEGATION_2) ?? stanza.getChild("delegation", NS_DELEGATION_1);
    if (!d || d.getChild("forwarded")) return;
    const server = normalizeJid(stanza.attrs.from as string | undefined) ?? undefined;
    // Only our own server delegates: a remote server announcing a delegation to itself is ignored.
    if (!isServerJid(server) || !trustedServers.has(server)) {
      logger?.warn(
        { from: stanza.attrs.from, trusted: [...trustedServers] },
        "ignored a XEP-0355 delegation announcement from a sender that is not our server",
      );
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
  });

  // Disco nesting (XEP-0355 §7.2): nodes `urn:xmpp:delegation:N::ns` (server) and `…:bare:ns` (accounts).
  for (const ns of [NS_DELEGATION_2, NS_DELEGATION_1]) {
    disco.addNode(`${ns}:`, (node): DiscoInfo | undefined => {
      const rest = node.slice(ns.length + 1);
      const bare = rest.startsWith("bare:");
      const namespace = bare ? rest.slice("bare:".length) : rest.startsWith(":") ? rest.slice(1) : undefined;
      const h = namespace ? handlers.get(namespace) : undefined;
      if (!namespace || !h) return undefined;
      const features = (bare ? h.options.bareFeatures : h.options.serverFeatures) ?? [namespace];
      return { identities: [], features };
    });
  }

  for (const ns of [NS_DELEGATION_2, NS_DELEGATION_1]) {
    iq.handle("set", ns, "delegation", async (ctx) => {
      const server = normalizeJid(ctx.from) ?? "";
      // Only a server that delegated something to us may forward IQs; anything else is a forgery.
      if (!isServerJid(server) || !delegated.has(server)) {
        throw new StanzaError("forbidden", "auth", "not a delegating server");
      }
      const forwarded = unwrapDelegated(ctx.element);
      if (!forwarded) throw new StanzaError("bad-request", "modify", "malformed delegation wrapper");
      const payload = childElements(forwarded)[0]!;
      const namespace = payload.attrs.xmlns as string;
      const h = handlers.get(namespace);
      let outcome: Element | true | StanzaError;
      if (!h || !delegated.get(server)!.has(namespace)) {
        outcome = new StanzaError("service-unavailable", "cancel");
      } else if (forwarded.attrs.to && domainOf(forwarded.attrs.to) !== server) {
        // A server delegates IQs to itself and its own accounts only; anything else is not ours to answer.
        logger?.warn({ server, to: forwarded.attrs.to, namespace }, "refused a delegated IQ addressed outside the delegating server");
        outcome = new StanzaError("forbidden", "auth", "not addressed to the delegating server or its users");
      } else {
        try {
          outcome = await h.handler({
            server,
            stanza: forwarded,
            element: payload,
            from: forwarded.attrs.from ?? "",
            to: forwarded.attrs.to ?? "",
            type: forwarded.attrs.type as "get" | "set",
            id: forwarded.attrs.id ?? "",
          });
        } catch (err) {
          if (StanzaError.isInstance(err)) outcome = err;
          else {
            outcome = new StanzaError("internal-server-error", "wait");
            emitter.emit("handler-error", { namespace, error: err });
          }
        }
      }
      emitter.emit("answered", {
        namespace,
        from: forwarded.attrs.from ?? "",
        to: forwarded.attrs.to ?? "",
        type: StanzaError.isInstance(outcome) ? "error" : "result",
        ...(StanzaError.isInstance(outcome) ? { condition: outcome.condition } : {}),
      });
      return wrapDelegated(ctx.element.attrs.xmlns, innerReply(forwarded, outcome));
    });
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
