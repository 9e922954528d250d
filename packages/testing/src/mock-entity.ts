// A mock xmpp.js entity for unit tests: a real `client()` or `component()` whose socket is replaced, so
// incoming stanzas run through the real middleware (iqCallee, iqCaller, your hooks) and outgoing stanzas are
// captured instead of written. No server, no network.
//
// @xmpp/test does this too, but 0.13.1 does not load with ltx 3.1 and 0.14 is not published.
import { EventEmitter } from "node:events";
import type { JID } from "@xmpp/jid";
import { createElement as xml, type Element } from "@xmpp/xml";

/** The subset of an xmpp.js entity the mock touches. */
interface RawEntity extends EventEmitter {
  jid: unknown;
  status: string;
  socket: unknown;
  send(el: Element): Promise<void>;
  _onElement(el: Element): void;
  _attachSocket?(socket: unknown): void;
  reconnect?: { stop(): void };
}

export type StanzaMatcher = (stanza: Element) => boolean;

/**
 * What mockClient() and mockComponent() give: a real xmpp.js entity, described by the members xmppkit and
 * most bots use (the shape @xmppkit/core's setupKit() takes). Pass your own type as `E` for more.
 */
export interface MockXmppEntity extends EventEmitter {
  jid: JID | null;
  status: string;
  options: { domain?: string; service?: string; [key: string]: unknown };
  timeout?: number;
  NS?: string;
  socket?: unknown;
  send(el: Element): Promise<void>;
  sendMany(els: Element[]): Promise<void>;
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  connect(service: string): Promise<unknown>;
  open(options: { domain?: string; lang?: string }): Promise<unknown>;
  disconnect(): Promise<unknown>;
  middleware: { use(fn: (ctx: MockIncomingContext, next: () => Promise<unknown>) => unknown): unknown };
  iqCallee: {
    get(ns: string, name: string, handler: (ctx: MockIncomingContext, next: () => Promise<unknown>) => unknown): void;
    set(ns: string, name: string, handler: (ctx: MockIncomingContext, next: () => Promise<unknown>) => unknown): void;
  };
  iqCaller: { request(stanza: Element, timeout?: number): Promise<Element> };
  reconnect?: { stop(): void; delay?: number };
}

/** The context xmpp.js middleware passes to handlers. */
export interface MockIncomingContext {
  stanza: Element;
  entity: MockXmppEntity;
  name: string;
  id: string;
  type: string;
  element?: Element;
}

export interface MockEntity<E> {
  /** The real xmpp.js entity, online, with a mock socket. */
  readonly entity: E;
  /** Every stanza written so far, in order. */
  readonly sent: Element[];
  /** Feed an incoming stanza through the entity's middleware; resolves when the chain has run. */
  receive(stanza: Element): Promise<void>;
  /** Resolve with the next written stanza that matches (or any), waiting up to `timeoutMs`. */
  nextSent(match?: StanzaMatcher, timeoutMs?: number): Promise<Element>;
  /**
   * Answer outgoing IQ get/set requests that match with `reply` (an element payload, `true` for an empty
   * result, or an <error/>), addressed back to the sender. Returns a function that removes the script.
   */
  replyToIq(match: StanzaMatcher, reply: Element | true | ((iq: Element) => Element | true)): () => void;
  /** Simulate the link dropping (status → disconnect, `disconnect` emitted). */
  dropLink(): void;
  /** Forget captured stanzas. */
  clear(): void;
}

function fakeSocket() {
  const socket = new EventEmitter() as EventEmitter & Record<string, unknown>;
  Object.assign(socket, {
    write: (_data: string, cb?: (err?: Error) => void) => cb?.(),
    end: () => socket.emit("close"),
    destroy: () => socket.emit("close"),
    setKeepAlive: () => undefined,
    secure: true,
  });
  return socket;
}

function wrap<E>(raw: RawEntity, jidString: string, jidFn: (s: string) => unknown): MockEntity<E> {
  raw.reconnect?.stop();
  // @xmpp/client dispatches send() through the transport picked at connect time; use the plain Connection's.
  const proto = Object.getPrototypeOf(Object.getPrototypeOf(raw)) as { send: unknown; sendMany?: unknown };
  if ("transports" in raw) (raw as unknown as { Transport: unknown }).Transport = { prototype: proto };
  raw.jid = jidFn(jidString);
  // Attach through the connection's own method so that a socket `close` becomes a real `disconnect`.
  const socket = fakeSocket();
  if (typeof raw._attachSocket === "function") raw._attachSocket(socket);
  else raw.socket = socket;
  raw.status = "online";
  const sent: Element[] = [];
  const waiters: { match: StanzaMatcher; resolve(el: Element): void }[] = [];
  const scripts: { match: StanzaMatcher; reply: Element | true | ((iq: Element) => Element | true) }[] = [];
  raw.on("error", () => {
    // Errors are the code under test's business; do not crash the test run on an unhandled `error` event.
  });

  raw.on("send", (el: Element) => {
    sent.push(el);
    for (const w of [...waiters]) {
      if (w.match(el)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(el);
        break;
      }
    }
    if (el.name === "iq" && (el.attrs.type === "get" || el.attrs.type === "set")) {
      const script = scripts.find((s) => s.match(el));
      if (script) {
        const answer = typeof script.reply === "function" ? script.reply(el) : script.reply;
        const isError = answer !== true && answer.name === "error";
        const reply = xml(
          "iq",
          { type: isError ? "error" : "result", id: el.attrs.id, to: el.attrs.from ?? jidString, ...(el.attrs.to ? { from: el.attrs.to } : {}) },
          ...(answer === true ? [] : [answer]),
        );
        setImmediate(() => raw._onElement(reply));
      }
    }
  });

  return {
    entity: raw as unknown as E,
    sent,
    async receive(stanza) {
      raw._onElement(stanza);
      // Let the koa-compose chain (and any awaited handlers) settle.
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
    },
    nextSent(match = () => true, timeoutMs = 2000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching stanza sent within ${timeoutMs} ms; sent so far:\n${sent.map(String).join("\n")}`)),
          timeoutMs,
        );
        const settle = (el: Element) => {
          clearTimeout(timer);
          resolve(el);
        };
        waiters.push({ match, resolve: settle });
      });
    },
    replyToIq(match, reply) {
      const script = { match, reply };
      scripts.push(script);
      return () => void scripts.splice(scripts.indexOf(script), 1);
    },
    dropLink() {
      const current = raw.socket as EventEmitter | null;
      if (current) current.emit("close", true);
      else {
        raw.status = "disconnect";
        raw.emit("disconnect", { clean: false });
      }
    },
    clear() {
      sent.length = 0;
    },
  };
}

/** Import an optional peer dependency, with an install hint when it is missing. */
export async function importPeer(name: "@xmpp/client" | "@xmpp/component"): Promise<unknown> {
  const specifier: string = name;
  try {
    return await import(specifier);
  } catch (err) {
    if ((err as { code?: string }).code === "ERR_MODULE_NOT_FOUND" || (err as { code?: string }).code === "MODULE_NOT_FOUND") {
      throw new Error(`${name} is not installed: npm install ${name}`);
    }
    throw err;
  }
}

/** A mock `@xmpp/component` entity for `domain` (default `component.localhost`). */
export async function mockComponent<E = MockXmppEntity>(options: { domain?: string } = {}): Promise<MockEntity<E>> {
  const domain = options.domain ?? "component.localhost";
  const { component, jid } = (await importPeer("@xmpp/component")) as unknown as {
    component(o: object): RawEntity;
    jid(s: string): unknown;
  };
  const raw = component({ service: "xmpp://127.0.0.1:1", domain, password: "mock" });
  return wrap<E>(raw, domain, jid);
}

/** A mock `@xmpp/client` entity logged in as `jid` (default `bot@localhost/mock`). */
export async function mockClient<E = MockXmppEntity>(options: { jid?: string } = {}): Promise<MockEntity<E>> {
  const full = options.jid ?? "bot@localhost/mock";
  const [local, rest] = full.split("@") as [string, string];
  const domain = rest.split("/")[0]!;
  const { client, jid } = (await importPeer("@xmpp/client")) as unknown as {
    client(o: object): RawEntity;
    jid(s: string): unknown;
  };
  const raw = client({ service: "xmpp://127.0.0.1:1", domain, username: local, password: "mock" });
  return wrap<E>(raw, full, jid);
}

/** Build a stanza, for tests: `stanza("iq", { type: "get", from: "a@b" }, xml("ping", "urn:xmpp:ping"))`. */
export const stanza = xml;
