// One place for XML and JIDs. Every element in xmppkit is built with xml() from @xmpp/xml, never with ltx's
// ESM Element class: xmpp.js checks `instanceof` against the CommonJS class and silently drops anything else.
// Named imports only: @xmpp/xml and @xmpp/jid are ESM-only, and in our CommonJS build a default import would
// be the module namespace (require(esm)), not the function. `createElement` is what @xmpp/xml's `xml()` calls.
import { createElement, Element, Parser } from "@xmpp/xml";
import { jid as jidFn, JID } from "@xmpp/jid";

/** Build an element: `xml("iq", { type: "get" }, xml("ping", "urn:xmpp:ping"))`. */
export const xml: typeof createElement = createElement;

/** XEP-0297 Stanza Forwarding, used by XEP-0356 and XEP-0355 wrappers. https://xmpp.org/extensions/xep-0297.html */
export const NS_FORWARD = "urn:xmpp:forward:0";
export { Element, JID };
export type XmlElement = Element;

/** XEP-0004 Data Forms (disco forms, MUC configuration). https://xmpp.org/extensions/xep-0004.html */
export const NS_DATA = "jabber:x:data";

/**
 * Characters XML 1.0 does not allow anywhere in a document (§2.2 `Char`): C0 controls other than tab, LF and
 * CR, surrogates that are not part of a pair, U+FFFE and U+FFFF. One of them in a stanza makes the server
 * close the stream (`not-well-formed`), dropping the link for everything else in flight.
 */
const XML_FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Where `text` holds a character XML 1.0 forbids, or undefined when it can go on the wire. */
export function xmlForbiddenChar(text: string): { index: number; char: string } | undefined {
  const m = XML_FORBIDDEN.exec(text);
  if (!m) return undefined;
  const code = m[0].charCodeAt(0);
  return { index: m.index, char: `U+${code.toString(16).toUpperCase().padStart(4, "0")}` };
}

/** Whether every character of `text` may appear in XML 1.0. */
export function isXmlSafe(text: string): boolean {
  return !XML_FORBIDDEN.test(text);
}

/**
 * Parse a JID; returns null instead of throwing on malformed input. @xmpp/jid itself is lenient: it takes
 * "@@@" (domain "@@"), "@host", "a@b@c" and "a@b/" (RFC 7622 §3: every present part must be non-empty, and
 * neither localpart nor domainpart may hold "@" or spaces), so those are refused here.
 */
export function parseJid(value: string | null | undefined): JID | null {
  if (!value || typeof value !== "string") return null;
  const slash = value.indexOf("/");
  const head = slash < 0 ? value : value.slice(0, slash);
  if (head.startsWith("@") || slash === value.length - 1 || /\s/.test(head) || !isXmlSafe(value)) return null;
  try {
    const j = jidFn(value);
    if (!j.domain || j.domain.includes("@")) return null;
    return j;
  } catch {
    return null;
  }
}

/** Bare form (`local@domain` or `domain`) of a JID string, or null if it does not parse. */
/**
 * A bare JID in plain lowercase ASCII is already in its normal form (nodeprep and nameprep leave it alone),
 * so it needs no parse: most contact and room JIDs are like this, and parsing them was a measurable share of
 * the gateway's CPU in a roster refresh.
 */
const PLAIN_BARE = /^(?:[a-z0-9_.+=-]+@)?[a-z0-9-]+(?:\.[a-z0-9-]+)*$/;

export function bareJid(value: string | null | undefined): string | null {
  if (value && PLAIN_BARE.test(value)) return value;
  const j = parseJid(value);
  return j ? j.bare().toString() : null;
}

export function domainOf(value: string | null | undefined): string | null {
  return parseJid(value)?.domain ?? null;
}

/** A server or component address: a domain with no local part and no resource (who may grant privileges). */
export function isServerJid(value: string | null | undefined): value is string {
  const j = parseJid(value);
  return j !== null && !j.local && !j.resource;
}

export function isBareJid(value: string): boolean {
  const j = parseJid(value);
  return j !== null && !j.resource;
}

/** The JID as a normalised string (lower-cased local part and domain, as @xmpp/jid does). */
export function normalizeJid(value: string | null | undefined): string | null {
  if (value && PLAIN_BARE.test(value)) return value;
  return parseJid(value)?.toString() ?? null;
}

/** The element's child elements (never text nodes). */
export function childElements(el: Element): Element[] {
  return el.children.filter((c): c is Element => typeof c !== "string");
}

export function firstChildElement(el: Element): Element | undefined {
  return childElements(el)[0];
}

/**
 * Parse one element from its XML text (something stored with `toString()`); throws on malformed input.
 * The result is built by @xmpp/xml, like every element xmpp.js reads from a socket.
 */
export function parseXml(text: string): Element {
  const parser = new Parser();
  let root: Element | undefined;
  let error: Error | undefined;
  parser.on("start", (el: Element) => {
    root = el;
  });
  parser.on("element", (el: Element) => {
    root?.append(el);
  });
  parser.on("error", (err: Error) => {
    error ??= err;
  });
  parser.write(text);
  if (error) throw error;
  if (!root) throw new Error("no element in the text");
  return root;
}
