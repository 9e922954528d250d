// Why a link failed, in words an operator can act on, and which failures no retry will fix.
// https://www.rfc-editor.org/rfc/rfc6120#section-4.9.3
import { entityKind, type XmppEntity } from "./entity.js";
import { XmppkitError } from "./errors.js";

/** Stream errors that no retry will fix (RFC 6120 §4.9.3). */
const FATAL_CONDITIONS: Record<string, string> = {
  "not-authorized":
    "the server refused the credentials (for a component: a wrong shared secret, or a domain the server does not know as a component; ejabberd says not-authorized for both)",
  "host-unknown": "the server does not serve this domain (for a component: no such Component in the server config)",
  "improper-addressing": "the stream header has no or a wrong `to`",
  "invalid-namespace": "the server expected another stream namespace",
  "invalid-from": "the server rejected a stanza's `from` and closed the stream",
};

export class FatalConnectionError extends XmppkitError {
  static override readonly brand = "FatalConnectionError";
  constructor(
    readonly condition: string,
    detail: string,
  ) {
    super(`${condition}: ${detail}`);
  }
}

/** start() was waiting when stop() was called. */
export class LinkStoppedError extends XmppkitError {
  static override readonly brand = "LinkStoppedError";
  constructor() {
    super("stopped before the link came up");
  }
}

/** An error the entity emitted, as xmpp.js makes them (stream errors carry a condition and a text). */
export type LinkError = Error & { condition?: string; text?: string; code?: string };

/** The fatal error for a stream error no retry will fix; undefined for one worth another attempt. */
export function fatalStreamError(err: LinkError): FatalConnectionError | undefined {
  const detail = err.condition ? FATAL_CONDITIONS[err.condition] : undefined;
  return err.condition && detail ? new FatalConnectionError(err.condition, detail) : undefined;
}

/** What an `error` from xmpp.js says, in words for a log line. */
export function describeError(err: LinkError, entity: XmppEntity): string {
  if (err.condition === "conflict") {
    // RFC 6120 §4.9.3.3; a component refused because the server already has a link for its domain.
    const who = entity.options?.domain ?? entity.jid?.toString() ?? "this address";
    return `another instance holds ${who} (stream error conflict${err.text ? `: ${err.text}` : ""})`;
  }
  if (err.condition) return `stream error ${err.condition}${err.text ? ` (${err.text})` : ""}`;
  if (err.name === "XMLError") return `the server sent malformed XML (${err.message})`;
  if (err.message === "Unexpected server response") return "the server answered the authentication with something else than success";
  return err.message || err.name;
}

/** The fatal error for a service that answered with something else than XMPP (`firstBytes`). */
export function notXmppError(entity: XmppEntity, firstBytes: string): FatalConnectionError {
  const service = String(entity.options.service ?? "the service");
  return new FatalConnectionError(
    "not-xmpp",
    `${service} does not speak XMPP: it answered ${quote(firstBytes)} (is the service the server's ${entityKind(entity)} port?)`,
  );
}

/** A short, printable quote of what a non-XMPP service sent. */
function quote(text: string): string {
  const line = text.replace(/[\u0000-\u001F\u007F]+/g, " ").trim();
  return JSON.stringify(line.length > 60 ? `${line.slice(0, 60)}…` : line);
}
