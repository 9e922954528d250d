// The outgoing side of the stanza hooks: the entity's `send` (and `sendMany`) wrapped so that everything it
// sends passes through the hooks, which can observe, amend or drop a stanza before it is written.
// https://xmpp.org/extensions/xep-0114.html
//
// A component's stanza without `from` gets the component's domain before the hooks run (XEP-0114 wants a
// `from` on everything a component sends), and an IQ error never echoes the request's payload beyond its
// first element (RFC 6120 §8.3.1 makes the echo optional; a deep one would overflow the stack on output).
import { entityKind, type XmppEntity } from "./entity.js";
import { StanzaError, StanzaRefusedError } from "./errors.js";
import type { OutgoingHook } from "./stanzas.js";
import { xml, type Element } from "./xml.js";

export const STANZA_NAMES = new Set(["iq", "message", "presence"]);

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

const isStanzaElement = (v: unknown): v is Element =>
  typeof v === "object" &&
  v !== null &&
  typeof (v as Element).name === "string" &&
  typeof (v as Element).attrs === "object" &&
  Array.isArray((v as Element).children);

/** The stanza as the hooks leave it (`defaultFrom` filled in where `from` is missing), or null if one dropped it. */
function applyOutgoing(stanza: Element, hooks: readonly OutgoingHook[], defaultFrom: string | undefined): Element | null {
  let current: Element = stanza;
  if (!STANZA_NAMES.has(current.name)) return current;
  if (defaultFrom && current.attrs.from === undefined) current.attrs.from = defaultFrom;
  trimErrorEcho(current);
  for (const hook of hooks) {
    const result = hook(current);
    if (result === null) return null;
    if (isStanzaElement(result)) current = result; // anything else a hook returns (a counter's result…) is ignored
  }
  return current;
}

/** Make the entity's `send` and `sendMany` pass every stanza through `hooks` (read at each send). */
export function wrapSend(entity: XmppEntity, hooks: readonly OutgoingHook[]): void {
  const rawSend = entity.send.bind(entity);
  const component = entityKind(entity) === "component";
  const apply = (stanza: Element) => applyOutgoing(stanza, hooks, component ? entity.options.domain : undefined);

  entity.send = async (stanza: Element) => {
    const out = apply(stanza);
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
      const out = stanzas.map(apply).filter((s): s is Element => s !== null);
      if (out.length) await rawSendMany(out);
    };
  }
}
