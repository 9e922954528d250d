// Error types shared by every package.
// https://www.rfc-editor.org/rfc/rfc6120#section-8.3 (stanza errors)
import { childElements, xml, type Element } from "./xml.js";

export const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

export type StanzaErrorType = "auth" | "cancel" | "continue" | "modify" | "wait";

/** A stanza-level error: thrown by handlers to answer with <error/>, and rejected by IQ requests. */
export class StanzaError extends Error {
  override name = "StanzaError";
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
export class IqTimeoutError extends Error {
  override name = "IqTimeoutError";
  constructor(readonly to: string | undefined, readonly timeoutMs: number) {
    super(`no reply from ${to ?? "the server"} within ${timeoutMs} ms`);
  }
}

/** A privileged operation attempted without the XEP-0356 permission it needs. */
export class PermissionError extends Error {
  override name = "PermissionError";
  constructor(
    message: string,
    readonly permission: string,
    readonly fix: string,
  ) {
    super(`${message}\n  fix: ${fix}`);
  }
}

/** Invalid configuration or options; `path` is the dotted option path. */
export class ConfigError extends Error {
  override name = "ConfigError";
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
export class StanzaRefusedError extends Error {
  override name = "StanzaRefusedError";
  constructor(
    readonly reason: "forbidden-character" | "too-large",
    message: string,
  ) {
    super(message);
  }
}

/** A stanza was sent while there is no link to the server (down, reconnecting, or stopped). */
export class LinkDownError extends Error {
  override name = "LinkDownError";
  constructor(message = "not connected to the server") {
    super(message);
  }
}
