// Error types shared by every package.
// https://www.rfc-editor.org/rfc/rfc6120#section-8.3 (stanza errors)
import { childElements, xml, type Element } from "./xml.js";

export const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

export type StanzaErrorType = "auth" | "cancel" | "continue" | "modify" | "wait";

/**
 * Errors that survive two copies of @xmppkit/core in one process. npm nests a second copy when two packages'
 * ranges differ, and an error made by one copy is then not `instanceof` the other copy's class: a
 * `not-acceptable` self-ping became "not sent", a ban was retried for ever. So each instance carries its
 * class's brand, a `Symbol.for("xmppkit.error.<Name>")` property (shared by every copy), and
 * `<Class>.isInstance(value)` checks the brand, not the prototype chain. Use it instead of `instanceof`.
 */
export function brandError(instance: Error, name: string): void {
  Object.defineProperty(instance, Symbol.for(`xmppkit.error.${name}`), { value: true, enumerable: false });
}

/** Whether `value` carries the brand `name` (see brandError), whichever copy of core made it. */
export function hasErrorBrand(value: unknown, name: string): boolean {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[Symbol.for(`xmppkit.error.${name}`)] === true;
}

/**
 * The base of every xmppkit error. A subclass names its brand once, `static override readonly brand = "Name"`,
 * and gets `name`, the brand on each instance (with its parents' brands) and `isInstance()`.
 */
export class XmppkitError extends Error {
  /** The class's brand (see brandError); every subclass names its own. */
  static readonly brand: string = "XmppkitError";
  /** True for an instance of this class or a subclass, made by any copy of the package that defines it. */
  static isInstance<T extends abstract new (...args: never[]) => XmppkitError>(this: T & { readonly brand: string }, value: unknown): value is InstanceType<T> {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass it is called on, whose brand counts
    return hasErrorBrand(value, this.brand);
  }
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    const own = new.target as unknown as { brand: string };
    this.name = own.brand;
    for (let c: unknown = own; typeof c === "function" && c !== Error; c = Object.getPrototypeOf(c)) {
      if (Object.hasOwn(c, "brand")) brandError(this, (c as unknown as { brand: string }).brand);
    }
  }
}

/** A stanza-level error: thrown by handlers to answer with <error/>, and rejected by IQ requests. */
export class StanzaError extends XmppkitError {
  static override readonly brand: string = "StanzaError";
  constructor(
    readonly condition: string,
    readonly type: StanzaErrorType = "cancel",
    readonly text?: string,
    readonly element?: Element,
    readonly by?: string,
  ) {
    super(text ? `${condition}: ${text}` : condition);
  }

  static fromElement(error: Element): StanzaError {
    const children = childElements(error);
    const cond = children.find((c) => c.attrs.xmlns === NS_STANZAS && c.name !== "text");
    const text = error.getChildText("text", NS_STANZAS) ?? undefined;
    const type = (error.attrs.type as StanzaErrorType) || "cancel";
    return new StanzaError(cond?.name ?? "undefined-condition", type, text, error, error.attrs.by);
  }

  /** The reply of a stanza that failed, if the stanza has an <error/> child. */
  static fromStanza(stanza: Element): StanzaError {
    const error = stanza.getChild("error");
    return error ? StanzaError.fromElement(error) : new StanzaError("undefined-condition");
  }

  toElement(): Element {
    return xml(
      "error",
      { type: this.type, ...(this.by ? { by: this.by } : {}) },
      xml(this.condition, NS_STANZAS),
      ...(this.text ? [xml("text", NS_STANZAS, this.text)] : []),
    );
  }
}

/** An IQ request that got no reply in time. */
export class IqTimeoutError extends XmppkitError {
  static override readonly brand = "IqTimeoutError";
  constructor(
    readonly to: string | undefined,
    readonly timeoutMs: number,
  ) {
    super(`no reply from ${to ?? "the server"} within ${timeoutMs} ms`);
  }
}

/**
 * An IQ the server is known not to route for this entity, refused before it is sent: ejabberd 24.10–24.12 with
 * mod_privilege loaded drops every IQ a component sends to a bare JID or a domain (unless wrapped in a
 * XEP-0356 `<privileged_iq/>` or a roster query), so waiting for its reply would only end in a timeout.
 */
export class IqNotRoutedError extends XmppkitError {
  static override readonly brand = "IqNotRoutedError";
  constructor(
    readonly to: string | undefined,
    readonly reason: string,
  ) {
    super(`not sent to ${to ?? "the server"}: ${reason}`);
  }
}

/** A privileged operation attempted without the XEP-0356 permission it needs. */
export class PermissionError extends XmppkitError {
  static override readonly brand = "PermissionError";
  constructor(
    message: string,
    readonly permission: string,
    readonly fix: string,
  ) {
    super(`${message}\n  fix: ${fix}`);
  }
}

/** Invalid configuration or options; `path` is the dotted option path. */
export class ConfigError extends XmppkitError {
  // Typed `string`, not the literal: a subclass (a module not installed, say) names its own brand.
  static override readonly brand: string = "ConfigError";
  constructor(
    message: string,
    readonly issues: { path: string; message: string; line?: number }[] = [],
  ) {
    super(message);
  }
}

/**
 * A stanza core refused to write: it holds a character XML 1.0 forbids, or it is larger than the server
 * accepts. Either would make the server close the stream and drop the link for everything in flight, so
 * the stanza never reaches the wire and the caller gets this instead.
 */
export class StanzaRefusedError extends XmppkitError {
  static override readonly brand = "StanzaRefusedError";
  constructor(
    readonly reason: "forbidden-character" | "too-large",
    message: string,
  ) {
    super(message);
  }
}

/** A stanza was sent while there is no link to the server (down, reconnecting, or stopped). */
export class LinkDownError extends XmppkitError {
  static override readonly brand = "LinkDownError";
  constructor(message = "not connected to the server") {
    super(message);
  }
}
