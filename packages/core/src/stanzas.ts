// Hooks on incoming stanzas and on every stanza the entity sends.
//
// xmpp.js's outgoing `middleware.filter` cannot help here: in @xmpp/component 0.13 it never runs, and in 0.14
// it runs after the write. So this wraps `entity.send` itself: everything the entity
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
//
// The outgoing side is in stanzas-outgoing.ts, the incoming side in stanzas-incoming.ts.
import type { XmppEntity } from "./entity.js";
import type { Logger } from "./logger.js";
import { routeIncoming } from "./stanzas-incoming.js";
import { wrapSend } from "./stanzas-outgoing.js";
import { guardWire, type WireOptions } from "./wire.js";
import type { Element } from "./xml.js";

export { trimErrorEcho } from "./stanzas-outgoing.js";

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
  wrapSend(entity, outgoing);
  routeIncoming(entity, { hooks: incoming, logger });

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
