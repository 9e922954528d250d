// Hooks on incoming stanzas and on every stanza the entity sends.
//
// xmpp.js's outgoing `middleware.filter` cannot help here: in @xmpp/component 0.13 it never runs, and in 0.14
// it runs after the write (xmppjs-notes §2.1). So this wraps `entity.send` itself: everything the entity
// sends — module stanzas, iqCallee replies, iqCaller requests — passes through the outgoing hooks, which can
// observe, amend (return a replacement element) or drop (return null) it before it is written.
//
// A component's stanza without `from` gets the component's domain before the hooks run: XEP-0114 wants a
// `from` on everything a component sends, Prosody fills a missing one in but other servers need not, and
// hooks (stamping, tracking) then see the real sender. Code that sends as another of the component's JIDs
// still says so itself.
//
// Two rules keep one bad stanza from hurting anyone else:
// - an incoming hook that throws is logged, never handed to xmpp.js (whose `error` event means "the link");
//   an IQ get/set it was handling is answered with internal-server-error;
// - an IQ error never echoes the request's payload beyond its first element (RFC 6120 §8.3.1 makes the echo
//   optional): a deeply nested payload would otherwise overflow the stack while the reply is serialised, and
//   the requester would get no answer at all.
import { entityKind, type XmppEntity } from "./entity.js";
import { StanzaError, StanzaRefusedError } from "./errors.js";
import type { Logger } from "./logger.js";
import { guardWire, type WireOptions } from "./wire.js";
import { xml, type Element } from "./xml.js";

const STANZA_NAMES = new Set(["iq", "message", "presence"]);

/** Return nothing to pass the stanza on unchanged, an element to replace it, or null to drop it. */
export type OutgoingHook = (stanza: Element) => Element | null | undefined | void;

/**
 * Return nothing to let the stanza continue to the next hooks and xmpp.js handlers, `true` to mark it
 * handled (the chain stops; for an IQ get/set the hook must have replied itself), or an element to send as
 * the reply (the chain stops).
 */
export type IncomingHook = (stanza: Element) => Element | boolean | undefined | void | Promise<Element | boolean | undefined | void>;

export interface Stanzas {
  /** Send through the outgoing hooks. Resolves when written, or at once if a hook dropped the stanza. */
  send(stanza: Element): Promise<void>;
  /** Observe, amend or drop outgoing stanzas. Hooks run in registration order. Returns an unsubscribe. */
  onOutgoing(hook: OutgoingHook): () => void;
  /** Handle incoming stanzas before xmpp.js's own handlers. Hooks run in registration order. */
  onIncoming(hook: IncomingHook): () => void;
  /**
   * Hand a locally made stanza to the incoming side as if the server had sent it: the incoming hooks, the
   * xmpp.js middleware and every `stanza` listener see it (ping-muc's synthetic "you left the room").
   */
  deliver(stanza: Element): void;
}

const installed = new WeakMap<XmppEntity, Stanzas>();

/** An IQ error's echoed payload, cut to its first element: name and namespace, no attributes or children. */
export function trimErrorEcho(stanza: Element): void {
  if (stanza.name !== "iq" || stanza.attrs.type !== "error") return;
  stanza.children = stanza.children.map((c) =>
    typeof c === "string" || c.name === "error" || c.children.length === 0 ? c : xml(c.name, c.attrs.xmlns ? { xmlns: c.attrs.xmlns } : {}),
  );
}

/** The error that replaces an IQ reply the wire guard refused. */
function refusedReply(reply: Element, err: StanzaRefusedError): Element {
  const attrs: Record<string, string> = { type: "error" };
  for (const k of ["id", "to", "from"]) if (reply.attrs[k]) attrs[k] = reply.attrs[k];
  const text = err.reason === "too-large" ? "the reply is too large to send" : "the reply holds characters XML forbids";
  return xml("iq", attrs, new StanzaError("internal-server-error", "wait", text).toElement());
}

export interface StanzasDeps {
  entity: XmppEntity;
  /** Where a failing incoming hook is reported (default: stderr). */
  logger?: Logger | undefined;
}

/** Set up the stanza hooks on an entity. Idempotent: a second call returns the same handle. */
export function setupStanzas({ entity, logger }: StanzasDeps, options: WireOptions = {}): Stanzas {
  const existing = installed.get(entity);
  if (existing) return existing;
  guardWire(entity, options);

  const outgoing: OutgoingHook[] = [];
  const incoming: IncomingHook[] = [];
  const rawSend = entity.send.bind(entity);
  const component = entityKind(entity) === "component";

  const isStanzaElement = (v: unknown): v is Element =>
    typeof v === "object" &&
    v !== null &&
    typeof (v as Element).name === "string" &&
    typeof (v as Element).attrs === "object" &&
    Array.isArray((v as Element).children);

  function applyOutgoing(stanza: Element): Element | null {
    let current: Element = stanza;
    if (!STANZA_NAMES.has(current.name)) return current;
    if (component && current.attrs.from === undefined && entity.options.domain) current.attrs.from = entity.options.domain;
    trimErrorEcho(current);
    for (const hook of outgoing) {
      const result = hook(current);
      if (result === null) return null;
      if (isStanzaElement(result)) current = result; // anything else a hook returns (a counter's result…) is ignored
    }
    return current;
  }

  entity.send = async (stanza: Element) => {
    const out = applyOutgoing(stanza);
    if (!out) return;
    try {
      await rawSend(out);
    } catch (err) {
      // A reply the wire guard refused still owes the requester an answer.
      const reply = out.name === "iq" && (out.attrs.type === "result" || out.attrs.type === "error");
      if (reply && StanzaRefusedError.isInstance(err)) await rawSend(refusedReply(out, err)).catch(() => undefined);
      throw err;
    }
  };
  if (entity.sendMany) {
    const rawSendMany = entity.sendMany.bind(entity);
    entity.sendMany = async (stanzas: Element[]) => {
      const out = stanzas.map(applyOutgoing).filter((s): s is Element => s !== null);
      if (out.length) await rawSendMany(out);
    };
  }

  function hookFailed(err: unknown, stanza: Element) {
    const where = { err, stanza: stanza.name, type: stanza.attrs.type, from: stanza.attrs.from };
    if (logger) logger.error(where, "an incoming stanza hook failed");
    else console.error("xmppkit: an incoming stanza hook failed", where);
  }

  /** What a throwing hook leaves: an IQ get/set is answered with internal-server-error, anything else dropped. */
  function afterFailure(err: unknown, stanza: Element): Element | undefined {
    hookFailed(err, stanza);
    const request = stanza.name === "iq" && (stanza.attrs.type === "get" || stanza.attrs.type === "set");
    return request ? new StanzaError("internal-server-error", "wait").toElement() : undefined;
  }

  /**
   * The hooks from index `i` on, then xmpp.js's own handlers. Runs on every stanza received, so a hook that
   * answers synchronously (most do: "not mine") costs a call, not a promise and a microtask; only a hook that
   * returns a promise is awaited.
   */
  function runIncoming(stanza: Element, i: number, next: () => Promise<unknown>): unknown {
    for (; i < incoming.length; i++) {
      let result: ReturnType<IncomingHook>;
      try {
        result = incoming[i]!(stanza);
      } catch (err) {
        return afterFailure(err, stanza);
      }
      if (typeof (result as PromiseLike<unknown> | undefined)?.then === "function") {
        const at = i;
        return Promise.resolve(result).then(
          (settled) => (settled === true ? undefined : settled || runIncoming(stanza, at + 1, next)),
          (err: unknown) => afterFailure(err, stanza),
        );
      }
      if (result === true) return undefined;
      if (result) return result;
    }
    return next();
  }

  entity.middleware.use((ctx, next) => {
    if (!STANZA_NAMES.has(ctx.stanza.name) || incoming.length === 0) return next();
    return runIncoming(ctx.stanza, 0, next);
  });

  const handle: Stanzas = {
    send: (stanza) => entity.send(stanza),
    onOutgoing(hook) {
      outgoing.push(hook);
      return () => remove(outgoing, hook);
    },
    onIncoming(hook) {
      incoming.push(hook);
      return () => remove(incoming, hook);
    },
    deliver(stanza) {
      // What xmpp.js's Connection#_onElement does for a stanza read from the socket.
      entity.emit("element", stanza);
      entity.emit("stanza", stanza);
    },
  };
  installed.set(entity, handle);
  return handle;
}

function remove<T>(list: T[], item: T) {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}
