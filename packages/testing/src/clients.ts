// Log real @xmpp/client users into a test Prosody (SCRAM-SHA-1 over plain TCP on loopback; the harness sets
// a low iteration count so each login takes ~60 ms).
import { createElement as xml, type Element } from "@xmpp/xml";
import { importPeer } from "./mock-entity.js";
import type { XmppServer } from "./server.js";

export interface TestClient {
  /** The @xmpp/client entity (typed loosely; cast to your own type if you need more). */
  readonly xmpp: {
    jid: { toString(): string } | null;
    send(el: Element): Promise<void>;
    stop(): Promise<unknown>;
    on(event: string, fn: (...args: never[]) => void): unknown;
    iqCaller: { request(el: Element, timeout?: number): Promise<Element> };
    iqCallee: {
      set(ns: string, name: string, fn: (ctx: { stanza: Element; element: Element }) => unknown): void;
      get(ns: string, name: string, fn: (ctx: { stanza: Element; element: Element }) => unknown): void;
    };
  };
  readonly jid: string;
  /** Every stanza received, in order. */
  readonly received: Element[];
  /** Resolve with the next received stanza that matches, waiting up to `timeoutMs` (default 5 s). */
  next(match: (el: Element) => boolean, timeoutMs?: number): Promise<Element>;
  /** Send an IQ and resolve with the reply (rejects on error replies). */
  request(iq: Element, timeoutMs?: number): Promise<Element>;
  /** Fetch the roster (which also makes Prosody push roster changes to this resource). */
  fetchRoster(): Promise<Element>;
  /** Roster pushes received so far. */
  readonly rosterPushes: Element[];
  stop(): Promise<void>;
}

export interface LoginOptions {
  resource?: string;
  /** Send initial presence (default true). */
  presence?: boolean;
  password?: string;
}

/** Log `username` (or `user@host` on another VirtualHost) into `prosody` and return a started client with handy waiters. */
export async function loginClient(prosody: Pick<XmppServer, "c2s" | "domain" | "users">, username: string, options: LoginOptions = {}): Promise<TestClient> {
  const { client } = (await importPeer("@xmpp/client")) as unknown as {
    client(o: object): TestClient["xmpp"] & { start(): Promise<unknown>; reconnect: { stop(): void } };
  };
  // "user@other.host" logs in to another VirtualHost of the same Prosody.
  const at = username.indexOf("@");
  const [local, domain] = at < 0 ? [username, prosody.domain] : [username.slice(0, at), username.slice(at + 1)];
  const password = options.password ?? (domain === prosody.domain ? prosody.users[local]?.password : undefined) ?? `${local}pw`;
  const xmpp = client({
    service: prosody.c2s.service,
    domain,
    username: local,
    password,
    resource: options.resource ?? "test",
  });
  xmpp.reconnect.stop();
  const received: Element[] = [];
  const rosterPushes: Element[] = [];
  const waiters: { match: (el: Element) => boolean; resolve(el: Element): void }[] = [];
  xmpp.on("error", () => undefined);
  xmpp.on("stanza", (el: Element) => {
    received.push(el);
    for (const w of [...waiters]) {
      if (w.match(el)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(el);
      }
    }
  });
  // Answer roster pushes (the default client would answer service-unavailable) and record them.
  xmpp.iqCallee.set("jabber:iq:roster", "query", ({ stanza }) => {
    rosterPushes.push(stanza);
    return true;
  });
  await xmpp.start();
  if (options.presence !== false) await xmpp.send(xml("presence"));

  const self: TestClient = {
    xmpp,
    jid: xmpp.jid!.toString(),
    received,
    rosterPushes,
    next(match, timeoutMs = 5000) {
      const seen = received.find(match);
      if (seen) {
        received.splice(received.indexOf(seen), 1);
        return Promise.resolve(seen);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${self.jid}: no matching stanza within ${timeoutMs} ms`)), timeoutMs);
        const settle = (el: Element) => {
          clearTimeout(timer);
          received.splice(received.indexOf(el), 1);
          resolve(el);
        };
        waiters.push({ match, resolve: settle });
      });
    },
    request: (iq, timeoutMs = 10_000) => xmpp.iqCaller.request(iq, timeoutMs),
    fetchRoster: () => xmpp.iqCaller.request(xml("iq", { type: "get" }, xml("query", "jabber:iq:roster")), 10_000),
    stop: () => closeClient(xmpp),
  };
  return self;
}

/** An xmpp.js client or component as closeClient sees it (the fields are xmpp.js's own, typed loosely). */
interface Closable {
  stop(): Promise<unknown>;
  reconnect?: { stop(): void };
  socket?: {
    listeners(e: "data"): ((d: unknown) => void)[];
    removeListener(e: string, f: (d: unknown) => void): unknown;
    on(e: string, f: (d: unknown) => void): unknown;
    destroy(): unknown;
  } | null;
  parser?: unknown;
}

/**
 * Stop an xmpp.js `client()` or `component()` in a test without leaving a half-closed socket behind.
 *
 * xmpp.js's stop() sends `</stream:stream>` and gives the server `entity.timeout` (2 s) to close its side.
 * On a busy machine a server still delivering a backlog misses that: @xmpp/connection then drops its
 * parser (0.14 `#onStreamClosed` → `_detachParser()`, parser = null) but the socket stays attached until it
 * closes, so each further chunk reaches `_onData` → `this.parser.write(…)` and throws "Cannot read
 * properties of null (reading 'write')" from a socket event (an uncaught exception). Here the socket's data
 * listeners are wrapped to drop data once the parser is gone, the socket gets an error listener, the
 * entity is stopped (by `stop`, default `xmpp.stop()`, e.g. `() => kit.lifecycle.stop()`), and the socket
 * is destroyed whatever happened. Never rejects.
 */
export async function closeClient(xmpp: { stop(): Promise<unknown> } | null | undefined, stop: () => Promise<unknown> = () => xmpp!.stop()): Promise<void> {
  if (!xmpp) return;
  const entity = xmpp as Closable;
  entity.reconnect?.stop();
  const socket = entity.socket ?? null;
  if (socket) {
    for (const onData of socket.listeners("data")) {
      socket.removeListener("data", onData);
      socket.on("data", (d) => {
        if (entity.parser) onData(d);
      });
    }
    socket.on("error", () => undefined);
  }
  try {
    await stop();
  } catch {
    // already closed, or the server went first: nothing to clean
  } finally {
    socket?.destroy();
  }
}
