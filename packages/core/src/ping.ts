// XEP-0199 XMPP Ping: answer pings (@xmpp/component does not), and keep the link alive by pinging the server;
// a ping that gets no reply in time means the link is dead and is dropped, so the reconnect logic takes over.
// https://xmpp.org/extensions/xep-0199.html
import type { Disco } from "./disco.js";
import { entityDomain, type XmppEntity } from "./entity.js";
import { IqTimeoutError, StanzaError } from "./errors.js";
import type { Iq } from "./iq.js";
import type { Lifecycle } from "./lifecycle.js";
import { xml } from "./xml.js";

export const NS_PING = "urn:xmpp:ping";

export interface PingOptions {
  /** Ping the server every this many ms while online (0 turns keepalive off; default 60 s). */
  interval?: number;
  /** How long to wait for the reply before dropping the link (default 15 s). */
  timeout?: number;
  /** Whom to ping for keepalive: default the client's server, or for a component its own domain (which
   * travels through the server and back). Components should pass the server domain, or a function that
   * names the JID answering for it (`IqReach.echoTarget`, where the server drops IQs to bare JIDs). */
  target?: string | (() => string | undefined);
}

export interface Ping {
  /** Ping a JID; resolves with the round trip in ms. An error reply still proves the peer is reachable. */
  ping(to: string, timeoutMs?: number): Promise<number>;
  stop(): void;
}

export function setupPing(
  { entity, iq, disco, lifecycle }: { entity: XmppEntity; iq: Iq; disco?: Disco; lifecycle?: Lifecycle },
  options: PingOptions = {},
): Ping {
  const interval = options.interval ?? 60_000;
  const timeout = options.timeout ?? 15_000;
  iq.handle("get", NS_PING, "ping", () => true);
  disco?.addFeature(NS_PING);

  async function ping(to: string, timeoutMs = timeout): Promise<number> {
    const started = performance.now();
    try {
      await iq.get(xml("ping", NS_PING), to, { timeout: timeoutMs });
    } catch (err) {
      // Any error reply is still a reply: the link works. A timeout or a failed send is not.
      if (!StanzaError.isInstance(err)) throw err;
    }
    return performance.now() - started;
  }

  const keepaliveTarget = () => (typeof options.target === "function" ? options.target() : options.target) ?? entityDomain(entity);
  let timer: NodeJS.Timeout | undefined;
  let inFlight = false;
  /** Keepalive runs while online; stop() ends it until the link is (re)established by a later start(). */
  function arm() {
    if (timer || interval <= 0 || !lifecycle) return;
    timer = setInterval(async () => {
      if (!lifecycle.online || inFlight) return;
      inFlight = true;
      try {
        await ping(keepaliveTarget());
      } catch (err) {
        if (IqTimeoutError.isInstance(err) && lifecycle.online) lifecycle.dropLink(`keepalive ping unanswered for ${timeout} ms`);
      } finally {
        inFlight = false;
      }
    }, interval);
    timer.unref();
  }
  arm();
  lifecycle?.on("online", arm);

  return {
    ping,
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
