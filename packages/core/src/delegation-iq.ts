// XEP-0355 Namespace Delegation: a delegated IQ unwrapped, answered by the handler of its namespace, and the
// reply wrapped. https://xmpp.org/extensions/xep-0355.html#delegated-iq
//
// The inner reply is <iq xmlns="jabber:client">, `to` = the forwarded `from`, `from` = the forwarded `to`
// (omitted when the forwarded IQ had none), same id; an error goes back as an outer *result* wrapping an
// inner <iq type="error">: an outer error makes the server answer service-unavailable instead.
import type { DelegatedIqHandler, DelegationEvents, DelegationHandlerOptions } from "./delegation.js";
import type { TypedEmitter } from "./emitter.js";
import { StanzaError } from "./errors.js";
import type { IqHandlerContext } from "./iq.js";
import type { Logger } from "./logger.js";
import { NS_FORWARD, childElements, domainOf, isServerJid, normalizeJid, xml, type Element } from "./xml.js";

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

export interface DelegatedIqDeps {
  /** Delegated namespaces per server, as announced. */
  delegated: ReadonlyMap<string, ReadonlySet<string>>;
  handlers: ReadonlyMap<string, { handler: DelegatedIqHandler; options: DelegationHandlerOptions }>;
  emitter: TypedEmitter<DelegationEvents>;
  logger?: Logger | undefined;
}

/** Answer a delegation wrapper the server sent (an IQ set): the handler's answer as a wrapped inner reply. */
export async function answerDelegated(deps: DelegatedIqDeps, ctx: IqHandlerContext): Promise<Element> {
  const server = normalizeJid(ctx.from) ?? "";
  // Only a server that delegated something to us may forward IQs; anything else is a forgery.
  if (!isServerJid(server) || !deps.delegated.has(server)) {
    throw new StanzaError("forbidden", "auth", "not a delegating server");
  }
  const forwarded = unwrapDelegated(ctx.element);
  if (!forwarded) throw new StanzaError("bad-request", "modify", "malformed delegation wrapper");
  const namespace = childElements(forwarded)[0]!.attrs.xmlns as string;
  const outcome = await outcomeOf(deps, server, forwarded);
  deps.emitter.emit("answered", {
    namespace,
    from: forwarded.attrs.from ?? "",
    to: forwarded.attrs.to ?? "",
    type: StanzaError.isInstance(outcome) ? "error" : "result",
    ...(StanzaError.isInstance(outcome) ? { condition: outcome.condition } : {}),
  });
  return wrapDelegated(ctx.element.attrs.xmlns, innerReply(forwarded, outcome));
}

/** What the forwarded IQ gets: its handler's answer, or the error that says why it gets none. */
async function outcomeOf({ delegated, handlers, emitter, logger }: DelegatedIqDeps, server: string, forwarded: Element): Promise<Element | true | StanzaError> {
  const payload = childElements(forwarded)[0]!;
  const namespace = payload.attrs.xmlns as string;
  const h = handlers.get(namespace);
  if (!h || !delegated.get(server)!.has(namespace)) return new StanzaError("service-unavailable", "cancel");
  if (forwarded.attrs.to && domainOf(forwarded.attrs.to) !== server) {
    // A server delegates IQs to itself and its own accounts only; anything else is not ours to answer.
    logger?.warn({ server, to: forwarded.attrs.to, namespace }, "refused a delegated IQ addressed outside the delegating server");
    return new StanzaError("forbidden", "auth", "not addressed to the delegating server or its users");
  }
  try {
    return await h.handler({
      server,
      stanza: forwarded,
      element: payload,
      from: forwarded.attrs.from ?? "",
      to: forwarded.attrs.to ?? "",
      type: forwarded.attrs.type as "get" | "set",
      id: forwarded.attrs.id ?? "",
    });
  } catch (err) {
    if (StanzaError.isInstance(err)) return err;
    emitter.emit("handler-error", { namespace, error: err });
    return new StanzaError("internal-server-error", "wait");
  }
}
