// What comes off the socket: xmpp.js's connection made to survive a hostile or broken server.
//
// - xmpp.js 0.13 removes its parser's `error` listener after the first XML error, so a second error in the
//   same chunk was an unhandled `error` event that ended the process; ltx also throws (rather than emits)
//   on some input, such as an unknown entity. Both become one XML error on the entity (a link loss), and
//   nothing more is read until the socket closes.
// - A stanza larger than `maxBytes` is not parsed into memory: the stream is closed with
//   `policy-violation` (RFC 6120 §4.9.3.14) and `onOversize` is told.
// - The first bytes of a connection are kept until the server's stream header, to say what a service that
//   does not speak XMPP answered.
import { entitySocket, type XmppEntity } from "./entity.js";
import { xml } from "./xml.js";

const NS_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams";

/** Prosody's limit for a component's stanzas; nothing a server relays legitimately is bigger. */
export const DEFAULT_MAX_INBOUND_STANZA_BYTES = 512 * 1024;

/** The internals of an xmpp.js Connection (0.13 and 0.14) that the guard wraps. */
interface ConnectionInternals {
  _onData?(data: Buffer | string): void;
  _attachParser?(parser: { on(event: string, fn: (...args: unknown[]) => void): unknown }): void;
  parser?: unknown;
}

export interface InboundGuard {
  /** What the server sent before its stream header (up to 80 characters), for "does not speak XMPP". */
  readonly firstBytes: string;
  /** A new connection: count, read and remember from zero. */
  reset(): void;
}

export function guardInbound(entity: XmppEntity, options: { maxBytes?: number; onOversize(reason: string): void }): InboundGuard {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_INBOUND_STANZA_BYTES;
  const conn = entity as XmppEntity & ConnectionInternals;
  let firstBytes = "";
  let opened = false;
  let inbound = 0;
  let discard = false;

  entity.on("open", () => {
    opened = true;
    inbound = 0;
  });
  entity.on("element", () => {
    inbound = 0;
  });

  const attachParser = conn._attachParser;
  if (attachParser) {
    conn._attachParser = function (parser) {
      parser.on("error", () => undefined); // the errors after xmpp.js's first one
      return attachParser.call(this, parser);
    };
  }

  function refuse() {
    discard = true;
    options.onOversize(`the server sent a stanza over the ${maxBytes}-byte limit; the stream was closed (policy-violation)`);
    const error = xml("stream:error", {}, xml("policy-violation", NS_STREAMS), xml("text", NS_STREAMS, `stanza over ${maxBytes} bytes`));
    void entity
      .send(error)
      .catch(() => undefined)
      .finally(() => entitySocket(entity)?.destroy?.());
  }

  const onData = conn._onData;
  if (onData) {
    conn._onData = function (data) {
      if (discard || !conn.parser) return; // after an XML error or an oversize stanza, until the socket closes
      if (!opened && firstBytes.length < 80) firstBytes += String(data).slice(0, 80);
      inbound += data.length;
      if (inbound > maxBytes) return refuse();
      try {
        onData.call(this, data);
      } catch (err) {
        discard = true;
        entity.emit("error", Object.assign(new Error((err as Error).message), { name: "XMLError" }));
        entitySocket(entity)?.destroy?.();
      }
    };
  }

  return {
    get firstBytes() {
      return firstBytes;
    },
    reset() {
      firstBytes = "";
      opened = false;
      inbound = 0;
      discard = false;
    },
  };
}
