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
import { entitySocket, type XmppEntity } from "./entity.js";
import { brandError, hasErrorBrand } from "./errors.js";
import { guardInbound } from "./inbound.js";
import { DEFAULT_LINK_TIMEOUTS, OpeningStoppedError, openLink, type LinkTimeouts } from "./open-link.js";

/** Stream errors that no retry will fix (RFC 6120 §4.9.3). */
const FATAL_CONDITIONS: Record<string, string> = {
  "not-authorized":
    "the server refused the credentials (for a component: a wrong shared secret, or a domain the server does not know as a component; ejabberd says not-authorized for both)",
  "host-unknown": "the server does not serve this domain (for a component: no such Component in the server config)",
  "improper-addressing": "the stream header has no or a wrong `to`",
  "invalid-namespace": "the server expected another stream namespace",
  "invalid-from": "the server rejected a stanza's `from` and closed the stream",
};

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

export interface LifecycleOptions {
  backoff?: BackoffOptions;
  /** TCP keepalive probe delay in ms (0 turns it off; default 30 s). */
  tcpKeepAlive?: number;
  timeouts?: LinkTimeouts;
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
  /** True for a FatalConnectionError from any copy of @xmppkit/core. */
  static isInstance(value: unknown): value is FatalConnectionError {
    return hasErrorBrand(value, "FatalConnectionError");
  }
  constructor(
    readonly condition: string,
    detail: string,
  ) {
    super(`${condition}: ${detail}`);
    brandError(this, "FatalConnectionError");
  }
}

/** start() was waiting when stop() was called. */
export class LinkStoppedError extends Error {
  override name = "LinkStoppedError";
  /** True for a LinkStoppedError from any copy of @xmppkit/core. */
  static isInstance(value: unknown): value is LinkStoppedError {
    return hasErrorBrand(value, "LinkStoppedError");
  }
  constructor() {
    super("stopped before the link came up");
    brandError(this, "LinkStoppedError");
  }
}

/** xmpp.js's status setter (0.13 and 0.14), to settle on "offline" after a stop. */
interface StatusSetter {
  _status?(status: string): void;
}

/** What an `error` from xmpp.js says, in words for a log line. */
function describeError(err: Error & { condition?: string; text?: string; code?: string }, entity: XmppEntity): string {
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

/** A short, printable quote of what a non-XMPP service sent. */
function quote(text: string): string {
  const line = text.replace(/[\u0000-\u001F\u007F]+/g, " ").trim();
  return JSON.stringify(line.length > 60 ? `${line.slice(0, 60)}…` : line);
}

export function setupLifecycle({ entity }: { entity: XmppEntity }, options: LifecycleOptions = {}): Lifecycle {
  entity.reconnect?.stop();
  // @xmpp/component does not forward its `timeout` option; 2 s is short for a busy server.
  if (!entity.timeout || entity.timeout < 10_000) entity.timeout = 10_000;
  const timeouts = { ...DEFAULT_LINK_TIMEOUTS, ...options.timeouts };

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
  let pendingStart: { resolve(): void; reject(err: Error): void } | undefined;
  let downReason: string | undefined = "not connected yet";

  const note = (why: string) => {
    reason ??= why;
  };

  const inbound = guardInbound(entity, { maxBytes: options.maxInboundStanzaBytes, onOversize: (why) => note(why) });

  entity.on("connect", () => {
    const keepAlive = options.tcpKeepAlive ?? 30_000;
    if (keepAlive > 0) entitySocket(entity)?.setKeepAlive?.(true, keepAlive);
  });

  entity.on("open", () => {
    everOpened = true;
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
    note(describeError(err, entity));
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
    if (!everOnline && !everOpened && inbound.firstBytes && !inbound.firstBytes.trimStart().startsWith("<") && !stopping) {
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
    return new FatalConnectionError(
      "not-xmpp",
      `${service} does not speak XMPP: it answered ${quote(inbound.firstBytes)} (is the service the server's ${entityKindWord()} port?)`,
    );
  }

  function entityKindWord() {
    return entity.NS === "jabber:component:accept" ? "component" : "client";
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

  async function attempt() {
    if (stopping || fatal || (entity.status !== "offline" && entity.status !== "disconnect")) return;
    reason = undefined;
    streamClosed = false;
    inbound.reset();
    try {
      await openLink(entity, timeouts, () => stopping);
    } catch (err) {
      if (!(err instanceof OpeningStoppedError)) note(describeError(err as Error, entity));
      // Close the socket if it is still there: its `disconnect` schedules the next attempt (or reports a
      // fatal error). With no socket, the disconnect has happened already, or the connect never got one.
      const socket = entitySocket(entity);
      if (socket?.destroy) socket.destroy();
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
      await Promise.race([
        entity.stop().then(
          () => undefined,
          () => undefined,
        ),
        cut,
      ]);
    }
    const socket = entitySocket(entity);
    if (socket?.destroy) {
      const gone = new Promise<void>((r) => {
        const t = setTimeout(r, 1000).unref();
        entity.once("disconnect", () => {
          clearTimeout(t);
          r();
        });
      });
      socket.destroy();
      await gone;
    }
    if (entity.status !== "offline") (entity as StatusSetter)._status?.("offline");
    online = false;
    emitter.emit("offline", {});
  }

  function dropLink(why: string) {
    note(why);
    const socket = entitySocket(entity);
    if (socket?.destroy) socket.destroy();
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
