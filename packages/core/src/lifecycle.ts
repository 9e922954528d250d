// Connection lifecycle: opening the link in time-boxed steps, reconnecting with backoff and jitter, fatal
// errors, and one honest reason for every failure. https://www.rfc-editor.org/rfc/rfc6120#section-4
//
// xmpp.js's @xmpp/reconnect waits a fixed 1 s and retries forever, even after `not-authorized`
// (xmppjs-notes §1.3), and its opening steps can wait for ever. This replaces it:
// - every attempt is connect (TCP) → stream header → authentication (XEP-0114 handshake, or SASL and bind),
//   each with its own time limit; a step that fails or times out closes the socket and the next attempt
//   follows with backoff, up to a cap;
// - an authentication or addressing failure is fatal and reported once, with a reason an operator can act
//   on; so is a service that never spoke XMPP at all (an HTTP port, say);
// - each link loss and each failed attempt carries its own reason (never the previous outage's);
// - malformed XML from the server is a link loss, never a crash: xmpp.js 0.13 detaches its parser
//   listeners after the first XML error, so a second error in the same chunk was an unhandled `error`;
// - a stanza from the server over `maxInboundStanzaBytes` ends the stream (policy-violation) instead of
//   growing the parser's buffer without bound;
// - once stopping, a lost link stays down: nothing reconnects.
import { backoffDelay, type BackoffOptions } from "./backoff.js";
import { TypedEmitter, extend, type ListenerErrorHandler } from "./emitter.js";
import type { XmppEntity } from "./entity.js";
import { xml } from "./xml.js";

/** Stream errors that no retry will fix (RFC 6120 §4.9.3). */
const FATAL_CONDITIONS: Record<string, string> = {
  "not-authorized": "the server refused the credentials (for a component: the shared secret)",
  "host-unknown": "the server does not serve this domain (for a component: no such Component in the server config)",
  "improper-addressing": "the stream header has no or a wrong `to`",
  "invalid-namespace": "the server expected another stream namespace",
  "invalid-from": "the server rejected a stanza's `from` and closed the stream",
};

const NS_STREAMS = "urn:ietf:params:xml:ns:xmpp-streams";

/** Prosody's limit for a component's stanzas; nothing a server relays legitimately is bigger. */
export const DEFAULT_MAX_INBOUND_STANZA_BYTES = 512 * 1024;

export interface LifecycleEvents extends Record<string, unknown> {
  /** The link is up (first connect, reconnect, or stream resumption). */
  online: { jid: string; reconnected: boolean; resumed: boolean };
  /** The link went down; a reconnect follows unless `stop()` was called or the error was fatal. */
  "link-lost": { reason: string };
  /** The link is back after a loss; `downtimeMs` is how long it was down. `resumed` for XEP-0198 resumption. */
  "link-restored": { downtimeMs: number; resumed: boolean };
  /** The next attempt is scheduled; `reason` says why the link or the last attempt failed. */
  reconnecting: { attempt: number; delayMs: number; reason: string };
  /** Reconnecting stopped for good. */
  fatal: { error: Error };
  /** stop() finished. */
  offline: Record<string, never>;
}

export interface LifecycleTimeouts {
  /** TCP connect (default 10 s). */
  connect?: number;
  /** The server's stream header after the connect (default 10 s). */
  open?: number;
  /** The handshake (component) or SASL and resource binding (client) after the header (default 20 s). */
  authenticate?: number;
  /** A graceful close on stop() before the socket is cut (default 3 s). */
  close?: number;
}

export interface LifecycleOptions {
  backoff?: BackoffOptions;
  /** TCP keepalive probe delay in ms (0 turns it off; default 30 s). */
  tcpKeepAlive?: number;
  timeouts?: LifecycleTimeouts;
  /** Largest stanza accepted from the server, in bytes (default 512 KiB); a bigger one ends the stream. */
  maxInboundStanzaBytes?: number;
  /** Where a throwing listener of the lifecycle's events is reported. */
  onListenerError?: ListenerErrorHandler;
}

export interface Lifecycle extends TypedEmitter<LifecycleEvents> {
  readonly online: boolean;
  /** While the link is down: why (the loss's reason, or the last failed attempt's); undefined when online. */
  readonly downReason: string | undefined;
  /** True from the first step of a shutdown (`endReconnects()` or `stop()`). */
  readonly stopping: boolean;
  /** Connect; resolve when online. Transient failures are retried with backoff; fatal ones reject, and so does stop(). */
  start(): Promise<void>;
  /** From now on a lost link stays down; the current link stays up for goodbyes (the first step of a shutdown). */
  endReconnects(): void;
  /** Close the stream (a graceful close, cut after `timeouts.close`) and stop reconnecting. */
  stop(): Promise<void>;
  /** Drop the link now (e.g. a keepalive ping went unanswered); a reconnect follows. */
  dropLink(reason: string): void;
}

export class FatalConnectionError extends Error {
  override name = "FatalConnectionError";
  constructor(readonly condition: string, detail: string) {
    super(`${condition}: ${detail}`);
  }
}

/** start() was waiting when stop() was called. */
export class LinkStoppedError extends Error {
  override name = "LinkStoppedError";
  constructor() {
    super("stopped before the link came up");
  }
}

class StepTimeout extends Error {}

/** The internals of an xmpp.js Connection (0.13 and 0.14) that the hardening below wraps. */
interface ConnectionInternals {
  _onData?(data: Buffer | string): void;
  _attachParser?(parser: { on(event: string, fn: (...args: unknown[]) => void): unknown }): void;
  parser?: unknown;
  _status?(status: string): void;
}

/** What an `error` from xmpp.js says, in words for a log line. */
function describeError(err: Error & { condition?: string; text?: string; code?: string }): string {
  if (err.condition) return `stream error ${err.condition}${err.text ? ` (${err.text})` : ""}`;
  if (err.name === "XMLError") return `the server sent malformed XML (${err.message})`;
  if (err.message === "Unexpected server response") return "the server answered the authentication with something else than success";
  return err.message || err.name;
}

/** A short, printable quote of what a non-XMPP service sent. */
function quote(text: string): string {
  const line = text.replace(/[\u0000-\u001F\u007F]+/g, " ").trim();
  return JSON.stringify(line.length > 60 ? `${line.slice(0, 60)}…` : line);
}

export function setupLifecycle({ entity }: { entity: XmppEntity }, options: LifecycleOptions = {}): Lifecycle {
  entity.reconnect?.stop();
  // @xmpp/component does not forward its `timeout` option; 2 s is short for a busy server.
  if (!entity.timeout || entity.timeout < 10_000) entity.timeout = 10_000;
  const timeouts = { connect: 10_000, open: 10_000, authenticate: 20_000, close: 3_000, ...options.timeouts };
  const maxInbound = options.maxInboundStanzaBytes ?? DEFAULT_MAX_INBOUND_STANZA_BYTES;

  const emitter = new TypedEmitter<LifecycleEvents>(options.onListenerError);
  let online = false;
  let everOnline = false;
  let everOpened = false;
  let stopping = false;
  let fatal: Error | null = null;
  let retries = 0;
  let lostAt = 0;
  let timer: NodeJS.Timeout | undefined;
  /** Why the current connection (or attempt) failed: the first cause seen wins. */
  let reason: string | undefined;
  let streamClosed = false;
  let firstBytes = "";
  let inbound = 0;
  let discard = false;
  let pendingStart: { resolve(): void; reject(err: Error): void } | undefined;
  let downReason: string | undefined = "not connected yet";

  const note = (why: string) => {
    reason ??= why;
  };

  hardenConnection();

  entity.on("connect", () => {
    const keepAlive = options.tcpKeepAlive ?? 30_000;
    if (keepAlive > 0) entity.socket?.setKeepAlive?.(true, keepAlive);
  });

  entity.on("open", () => {
    everOpened = true;
    inbound = 0;
  });
  entity.on("element", () => {
    inbound = 0;
  });
  entity.on("close", () => {
    streamClosed = true;
  });

  entity.on("error", (err: Error & { condition?: string }) => {
    // A refused or unsendable stanza is its sender's problem, not a reason for the link to fail.
    if (stopping || err.name === "StanzaRefusedError" || err.name === "LinkDownError") return;
    const detail = err.condition ? FATAL_CONDITIONS[err.condition] : undefined;
    if (err.condition && detail) {
      fatal ??= new FatalConnectionError(err.condition, detail);
      clearTimeout(timer);
    } else if (err.name === "XMLError" && !everOnline && !everOpened) {
      fatal ??= notXmpp();
    }
    note(describeError(err));
  });

  entity.on("online", () => {
    const reconnected = everOnline;
    everOnline = true;
    online = true;
    retries = 0;
    reason = undefined;
    downReason = undefined;
    emitter.emit("online", { jid: entity.jid?.toString() ?? "", reconnected, resumed: false });
    if (reconnected) emitter.emit("link-restored", { downtimeMs: Date.now() - lostAt, resumed: false });
    settleStart();
  });

  // XEP-0198 resumption (clients): xmpp.js sets status "online" without emitting it.
  const sm = (entity as { streamManagement?: { on?(e: string, f: () => void): void } }).streamManagement;
  sm?.on?.("resumed", () => {
    online = true;
    retries = 0;
    reason = undefined;
    downReason = undefined;
    emitter.emit("online", { jid: entity.jid?.toString() ?? "", reconnected: true, resumed: true });
    emitter.emit("link-restored", { downtimeMs: Date.now() - lostAt, resumed: true });
    settleStart();
  });

  entity.on("disconnect", () => {
    if (!everOnline && !everOpened && firstBytes && !firstBytes.trimStart().startsWith("<") && !stopping) {
      // Closed after sending something that is not XML at all (an HTTP server's answer without a body).
      fatal ??= notXmpp();
    }
    const why = reason ?? (streamClosed ? "the server closed the stream" : "the connection closed");
    downReason = why;
    if (online) {
      online = false;
      lostAt = Date.now();
      emitter.emit("link-lost", { reason: why });
    }
    if (stopping) return;
    if (fatal) {
      emitter.emit("fatal", { error: fatal });
      settleStart(fatal);
      return;
    }
    schedule(why);
  });

  function notXmpp() {
    const service = String(entity.options.service ?? "the service");
    return new FatalConnectionError("not-xmpp", `${service} does not speak XMPP: it answered ${quote(firstBytes)} (is the service the server's ${entityKindWord()} port?)`);
  }

  function entityKindWord() {
    return entity.NS === "jabber:component:accept" ? "component" : "client";
  }

  /** Make xmpp.js's connection survive what a hostile or broken server sends. */
  function hardenConnection() {
    const conn = entity as XmppEntity & ConnectionInternals;
    const attachParser = conn._attachParser;
    if (attachParser) {
      conn._attachParser = function (parser) {
        // xmpp.js removes its own `error` listener after the first XML error; later ones must not be unhandled.
        parser.on("error", () => undefined);
        return attachParser.call(this, parser);
      };
    }
    const onData = conn._onData;
    if (onData) {
      conn._onData = function (data) {
        // After an XML error or an oversize stanza, until the socket closes: nothing more is read.
        if (discard || !conn.parser) return;
        if (!everOpened && firstBytes.length < 80) firstBytes += String(data).slice(0, 80);
        inbound += data.length;
        if (inbound > maxInbound) {
          discard = true;
          refuseOversize();
          return;
        }
        try {
          onData.call(this, data);
        } catch (err) {
          // ltx throws (rather than emits) on some bad input, such as an unknown entity.
          discard = true;
          entity.emit("error", Object.assign(new Error((err as Error).message), { name: "XMLError" }));
          entity.socket?.destroy?.();
        }
      };
    }
  }

  function refuseOversize() {
    const why = `the server sent a stanza over the ${maxInbound}-byte limit; the stream was closed (policy-violation)`;
    note(why);
    const text = xml("text", NS_STREAMS, `stanza over ${maxInbound} bytes`);
    const error = xml("stream:error", {}, xml("policy-violation", NS_STREAMS), text);
    void entity.send(error).catch(() => undefined).finally(() => entity.socket?.destroy?.());
  }

  function settleStart(err?: Error) {
    const p = pendingStart;
    pendingStart = undefined;
    if (!p) return;
    if (err) p.reject(err);
    else p.resolve();
  }

  function schedule(why: string) {
    if (timer || stopping || fatal) return;
    const delayMs = backoffDelay(retries, options.backoff);
    retries += 1;
    emitter.emit("reconnecting", { attempt: retries, delayMs, reason: why });
    timer = setTimeout(() => {
      timer = undefined;
      void attempt();
    }, delayMs);
  }

  /** Race `p` against a time limit; the message says which step ran out of time. */
  function step<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
    let t: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new StepTimeout(message)), ms);
    });
    return Promise.race([p, limit]).finally(() => clearTimeout(t));
  }

  /** Resolve on `online`; reject on an error during authentication, or when the socket goes. */
  function authenticated(): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = () => {
        entity.off("online", onOnline);
        entity.off("error", onError);
        entity.off("disconnect", onGone);
      };
      const onOnline = () => (done(), resolve());
      const onError = (err: Error) => (done(), reject(err));
      const onGone = () => (done(), reject(new Error("the connection closed during authentication")));
      entity.on("online", onOnline);
      entity.on("error", onError);
      entity.on("disconnect", onGone);
    });
  }

  async function attempt() {
    if (stopping || fatal || (entity.status !== "offline" && entity.status !== "disconnect")) return;
    reason = undefined;
    streamClosed = false;
    firstBytes = "";
    inbound = 0;
    discard = false;
    const { service, domain, lang } = entity.options as { service?: string; domain?: string; lang?: string };
    const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;
    let auth: Promise<void> | undefined;
    try {
      await step(entity.connect(service!), timeouts.connect, `no TCP connection to ${service} within ${seconds(timeouts.connect)}`);
      if (stopping) throw new LinkStoppedError();
      auth = authenticated();
      auth.catch(() => undefined);
      await step(entity.open({ domain, ...(lang ? { lang } : {}) } as { domain?: string }), timeouts.open, `${service} accepted the connection but sent no XMPP stream header within ${seconds(timeouts.open)}`);
      await step(auth, timeouts.authenticate, `the server did not complete authentication within ${seconds(timeouts.authenticate)}`);
    } catch (err) {
      if (!(err instanceof LinkStoppedError)) note(describeError(err as Error));
      // Close the socket if it is still there: its `disconnect` schedules the next attempt (or reports a
      // fatal error). With no socket, the disconnect has happened already, or the connect never got one.
      if (entity.socket?.destroy) entity.socket.destroy();
      else if (entity.status !== "disconnect" && !stopping) {
        downReason = reason ?? "the connection failed";
        schedule(downReason);
      }
    }
  }

  function start(): Promise<void> {
    if (online) return Promise.resolve();
    stopping = false;
    fatal = null;
    return new Promise<void>((resolve, reject) => {
      settleStart(new LinkStoppedError()); // a previous start() that was still waiting
      pendingStart = { resolve, reject };
      if (!timer) void attempt();
    });
  }

  function endReconnects() {
    stopping = true;
    clearTimeout(timer);
    timer = undefined;
    settleStart(new LinkStoppedError());
  }

  async function stop() {
    endReconnects();
    const status = entity.status;
    if (status === "online") {
      const cut = new Promise<void>((r) => setTimeout(r, timeouts.close).unref());
      await Promise.race([entity.stop().then(() => undefined, () => undefined), cut]);
    }
    if (entity.socket?.destroy) {
      const gone = new Promise<void>((r) => {
        const t = setTimeout(r, 1000).unref();
        entity.once("disconnect", () => (clearTimeout(t), r()));
      });
      entity.socket.destroy();
      await gone;
    }
    if (entity.status !== "offline") (entity as ConnectionInternals)._status?.("offline");
    online = false;
    emitter.emit("offline", {});
  }

  function dropLink(why: string) {
    note(why);
    if (entity.socket?.destroy) entity.socket.destroy();
    else void entity.disconnect().catch(() => undefined);
  }

  return extend(emitter, {
    get online() {
      return online;
    },
    get downReason() {
      return online ? undefined : stopping ? "stopping" : downReason;
    },
    get stopping() {
      return stopping;
    },
    start,
    endReconnects,
    stop,
    dropLink,
  }) as Lifecycle;
}
