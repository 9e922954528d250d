// Knowing that a message was delivered, not just written to a socket.
//
// - A groupchat message is confirmed by the room itself: a MUC service reflects every message to its
//   sender (XEP-0045 §7.4, https://xmpp.org/extensions/xep-0045.html#message); the room answers with an
//   error when we are not an occupant (a room gone after a restart, a kick): that is a bounce.
// - Any other message is confirmed by a round trip to our server after it: a server handles the stanzas of
//   one stream in order, so its answer to a ping sent after the message means the message was routed, and a
//   local bounce (no such user) arrives before that answer. XEP-0199: https://xmpp.org/extensions/xep-0199.html
//
// What this cannot know: whether a remote server (over s2s) accepted it; such bounces arrive much later.
import { XmppkitError, NS_PING, StanzaError, bareJid, xml, type Element, type Iq, type Stanzas } from "@xmppkit/core";

export interface DeliveryOptions {
  /** Whom to ping as the barrier (the server domain). */
  server: string | undefined;
  /** Who answers the barrier for the server when not its domain (a kit's `reach.echoTarget`). */
  echo?: () => string | undefined;
  /** Resolves once `echo` knows the answer (a kit's `reach.settled`): the barrier waits for it. */
  echoReady?: () => Promise<unknown>;
  /** The barrier's `from` (a component's domain); a client sends none. */
  from?: string | undefined;
  /** How long to wait for the room's reflection or the barrier's answer (default 30 s). */
  timeoutMs?: number;
}

export class DeliveryTimeoutError extends XmppkitError {
  static override readonly brand = "DeliveryTimeoutError";
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
  }
}

interface Waiter {
  to: string;
  room: boolean;
  settle(err?: Error): void;
}

export interface Delivery {
  /** Send `message` (it needs an `id`) and resolve once it is known to be delivered; reject on a bounce. */
  send(message: Element, options?: { room?: boolean; via?: (m: Element) => Promise<void> }): Promise<void>;
  stop(): void;
}

export function createDelivery({ stanzas, iq }: { stanzas: Stanzas; iq: Iq }, options: DeliveryOptions): Delivery {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const waiting = new Map<string, Waiter>();

  const off = stanzas.onIncoming((s) => {
    if (s.name !== "message") return;
    const w = waiting.get(String(s.attrs.id ?? ""));
    if (!w || bareJid(s.attrs.from) !== w.to) return;
    if (s.attrs.type === "error") {
      w.settle(StanzaError.fromStanza(s));
      return true; // the bounce is ours
    }
    if (w.room && s.attrs.type === "groupchat") w.settle(); // the reflection; others may want it too
    return undefined;
  });

  async function barrier() {
    await options.echoReady?.(); // a barrier to a JID the server drops would fail a delivered message
    const to = options.echo?.() ?? options.server;
    if (!to) return;
    const ping = xml("iq", { type: "get", to, ...(options.from ? { from: options.from } : {}) }, xml("ping", NS_PING));
    // A ping's error reply proves the round trip as well as a result does.
    await iq.request(ping, { timeout: timeoutMs }).catch((err: unknown) => {
      if (!StanzaError.isInstance(err)) throw err;
    });
  }

  async function send(message: Element, o: { room?: boolean; via?: (m: Element) => Promise<void> } = {}) {
    const id = String(message.attrs.id ?? "");
    const to = bareJid(message.attrs.to) ?? String(message.attrs.to ?? "");
    if (!id) throw new TypeError("a message whose delivery is confirmed needs an id");
    let timer: NodeJS.Timeout | undefined;
    const outcome = new Promise<void>((resolve, reject) => {
      const settle = (err?: Error) => {
        clearTimeout(timer);
        if (waiting.get(id) === waiter) waiting.delete(id);
        if (err) reject(err);
        else resolve();
      };
      const waiter: Waiter = { to, room: !!o.room, settle };
      waiting.set(id, waiter);
      timer = setTimeout(
        () =>
          settle(
            new DeliveryTimeoutError(
              o.room ? `the room did not reflect the message within ${timeoutMs} ms` : `the server did not confirm within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
    });
    outcome.catch(() => undefined);
    try {
      await (o.via ? o.via(message) : stanzas.send(message));
      if (!o.room) {
        await barrier();
        waiting.get(id)?.settle(); // no bounce came before the server's answer
      }
    } catch (err) {
      waiting.get(id)?.settle(err as Error);
    }
    return outcome;
  }

  return {
    send,
    stop() {
      off();
      for (const w of [...waiting.values()]) w.settle(new Error("stopped"));
    },
  };
}
