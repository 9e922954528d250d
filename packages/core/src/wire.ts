// The wire guard: the last check before a stanza's bytes reach the server.
//
// A character XML 1.0 forbids, or a stanza over the server's size limit, makes the server close the stream
// (Prosody: `not-well-formed`, or its 512 KiB component stanza limit): the link drops for everything in
// flight, and whatever sent the bad stanza believes it was delivered. Every write of the entity (module
// stanzas, iqCallee replies, iqCaller requests, the stream header) passes through here, so no code path can
// do that: the write is refused with a StanzaRefusedError the caller sees, and the link stays up. A write
// while there is no link fails with a LinkDownError instead of xmpp.js's "Cannot read properties of null".
//
// Writes made in the same turn of the event loop leave in one system call: the socket is corked at the first
// and uncorked on the next tick (Node's own recipe). A burst of stanzas from the server — say 50 IQs in one
// TCP read — is answered with one writev instead of 50 writes, which costs the component less and lets the
// server read the answers at once (Prosody's CPU per stanza drops with it). Nothing waits for a timer: the
// flush comes as soon as the promises of that turn have run.
import type { XmppEntity } from "./entity.js";
import { LinkDownError, StanzaRefusedError } from "./errors.js";
import { xmlForbiddenChar } from "./xml.js";

/** Prosody refuses component stanzas over 512 KiB; stay below it with room for the server's own additions. */
export const DEFAULT_MAX_STANZA_BYTES = 480 * 1024;

export interface WireOptions {
  /** Largest stanza written, in bytes of UTF-8 (default 480 KiB, below Prosody's 512 KiB component limit). */
  maxStanzaBytes?: number;
  /** Gather the writes of one event-loop turn into one system call (default true; a socket without cork() writes each at once). */
  coalesceWrites?: boolean;
}

/** A socket that can hold writes back (net.Socket, tls.TLSSocket; not xmpp.js's WebSocket wrapper). */
interface Corkable {
  cork(): void;
  uncork(): void;
}

const isCorkable = (s: unknown): s is Corkable =>
  typeof s === "object" && s !== null && typeof (s as Corkable).cork === "function" && typeof (s as Corkable).uncork === "function";

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
  const coalesce = options.coalesceWrites ?? true;
  const raw = e.write.bind(e);
  let corked: Corkable | undefined;
  // Not an async function: every write passes here, and returning raw()'s own promise saves the extra turns
  // an async wrapper's promise would take to settle.
  e.write = (data: string) => {
    const socket = e.socket;
    if (!socket) return Promise.reject(new LinkDownError());
    const problem = wireProblem(data, maxBytes);
    if (problem) return Promise.reject(problem);
    if (coalesce && corked !== socket && isCorkable(socket)) {
      socket.cork();
      corked = socket;
      process.nextTick(() => {
        if (corked === socket) corked = undefined;
        socket.uncork();
      });
    }
    return raw(data);
  };
}
