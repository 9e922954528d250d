// The wire guard: the last check before a stanza's bytes reach the server.
//
// A character XML 1.0 forbids, or a stanza over the server's size limit, makes the server close the stream
// (Prosody: `not-well-formed`, or its 512 KiB component stanza limit): the link drops for everything in
// flight, and whatever sent the bad stanza believes it was delivered. Every write of the entity (module
// stanzas, iqCallee replies, iqCaller requests, the stream header) passes through here, so no code path can
// do that: the write is refused with a StanzaRefusedError the caller sees, and the link stays up. A write
// while there is no link fails with a LinkDownError instead of xmpp.js's "Cannot read properties of null".
import type { XmppEntity } from "./entity.js";
import { LinkDownError, StanzaRefusedError } from "./errors.js";
import { xmlForbiddenChar } from "./xml.js";

/** Prosody refuses component stanzas over 512 KiB; stay below it with room for the server's own additions. */
export const DEFAULT_MAX_STANZA_BYTES = 480 * 1024;

export interface WireOptions {
  /** Largest stanza written, in bytes of UTF-8 (default 480 KiB, below Prosody's 512 KiB component limit). */
  maxStanzaBytes?: number;
}

type Writable = XmppEntity & { write(data: string): Promise<void> };

const guarded = new WeakSet<object>();

/** A short description of what was refused, for the error message. */
function head(data: string): string {
  const end = data.indexOf(">");
  const start = end > 0 && end < 120 ? data.slice(0, end + 1) : `${data.slice(0, 80)}…`;
  return start.replace(/[\u0000-\u001F]/g, "?");
}

/** Why `data` must not be written, or undefined when it may. */
export function wireProblem(data: string, maxBytes: number = DEFAULT_MAX_STANZA_BYTES): StanzaRefusedError | undefined {
  // A UTF-16 code unit is at most 3 bytes of UTF-8: most stanzas are known to fit without counting.
  if (data.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(data);
    if (bytes > maxBytes) {
      return new StanzaRefusedError(
        "too-large",
        `refused to send ${head(data)}: ${bytes} bytes is over the ${maxBytes}-byte stanza limit (the server would close the stream)`,
      );
    }
  }
  const bad = xmlForbiddenChar(data);
  if (bad) {
    return new StanzaRefusedError(
      "forbidden-character",
      `refused to send ${head(data)}: it holds ${bad.char} at offset ${bad.index}, which XML 1.0 forbids (the server would close the stream)`,
    );
  }
  return undefined;
}

/** Install the guard on the entity's `write` (idempotent). */
export function guardWire(entity: XmppEntity, options: WireOptions = {}): void {
  const e = entity as Writable;
  if (guarded.has(e) || typeof e.write !== "function") return;
  guarded.add(e);
  const maxBytes = options.maxStanzaBytes ?? DEFAULT_MAX_STANZA_BYTES;
  const raw = e.write.bind(e);
  e.write = async (data: string) => {
    if (!e.socket) throw new LinkDownError();
    const problem = wireProblem(data, maxBytes);
    if (problem) throw problem;
    return raw(data);
  };
}
