// Connection lifecycle: reconnect with exponential backoff and jitter, fatal errors, online/offline events.
//
// xmpp.js's @xmpp/reconnect waits a fixed 1 s and retries forever, even after `not-authorized`
// (xmppjs-notes §1.3). This replaces it: transient failures back off up to a cap; an authentication or
// addressing failure is fatal and reported once, with a reason an operator can act on.
import { backoffDelay, type BackoffOptions } from "./backoff.js";
import { TypedEmitter, extend } from "./emitter.js";
import type { XmppEntity } from "./entity.js";

/** Stream errors that no retry will fix (RFC 6120 §4.9.3). */
const FATAL_CONDITIONS: Record<string, string> = {
  "not-authorized": "the server refused the credentials (for a component: the shared secret)",
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
  reconnecting: { attempt: number; delayMs: number };
  /** Reconnecting stopped for good. */
  fatal: { error: Error };
  /** stop() finished. */
  offline: Record<string, never>;
}

export interface LifecycleOptions {
  backoff?: BackoffOptions;
  /** TCP keepalive probe delay in ms (0 turns it off; default 30 s). */
  tcpKeepAlive?: number;
}

export interface Lifecycle extends TypedEmitter<LifecycleEvents> {
  readonly online: boolean;
  /** Connect; resolve when online. Transient failures are retried with backoff; fatal ones reject. */
  start(): Promise<void>;
  /** Close the stream and stop reconnecting. */
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

export function setupLifecycle({ entity }: { entity: XmppEntity }, options: LifecycleOptions = {}): Lifecycle {
  entity.reconnect?.stop();
  // @xmpp/component does not forward its `timeout` option; 2 s is short for a busy server.
  if (!entity.timeout || entity.timeout < 10_000) entity.timeout = 10_000;

  const emitter = new TypedEmitter<LifecycleEvents>();
  let online = false;
  let everOnline = false;
  let stopping = false;
  let fatal: Error | null = null;
  let attempt = 0;
  let lostAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let lastReason = "";

  entity.on("connect", () => {
    const keepAlive = options.tcpKeepAlive ?? 30_000;
    if (keepAlive > 0) entity.socket?.setKeepAlive?.(true, keepAlive);
  });

  entity.on("error", (err: Error & { condition?: string }) => {
    lastReason = err.condition ? `stream error ${err.condition}${(err as { text?: string }).text ? ` (${(err as { text?: string }).text})` : ""}` : err.message;
    const detail = err.condition ? FATAL_CONDITIONS[err.condition] : undefined;
    if (err.condition && detail) {
      fatal = new FatalConnectionError(err.condition, detail);
      clearTimeout(timer);
    }
  });

  entity.on("online", () => {
    const reconnected = everOnline;
    everOnline = true;
    online = true;
    attempt = 0;
    emitter.emit("online", { jid: entity.jid?.toString() ?? "", reconnected, resumed: false });
    if (reconnected) emitter.emit("link-restored", { downtimeMs: Date.now() - lostAt, resumed: false });
  });

  // XEP-0198 resumption (clients): xmpp.js sets status "online" without emitting it.
  const sm = (entity as { streamManagement?: { on?(e: string, f: () => void): void } }).streamManagement;
  sm?.on?.("resumed", () => {
    online = true;
    attempt = 0;
    emitter.emit("online", { jid: entity.jid?.toString() ?? "", reconnected: true, resumed: true });
    emitter.emit("link-restored", { downtimeMs: Date.now() - lostAt, resumed: true });
  });

  entity.on("disconnect", () => {
    if (online) {
      online = false;
      lostAt = Date.now();
      emitter.emit("link-lost", { reason: lastReason || "connection closed" });
    }
    if (stopping) return;
    if (fatal) {
      emitter.emit("fatal", { error: fatal });
      return;
    }
    schedule();
  });

  function schedule() {
    if (timer || stopping || fatal) return;
    const delayMs = backoffDelay(attempt, options.backoff);
    attempt += 1;
    emitter.emit("reconnecting", { attempt, delayMs });
    timer = setTimeout(async () => {
      timer = undefined;
      if (stopping || fatal || entity.status !== "disconnect") return;
      try {
        const { service, domain } = entity.options;
        await entity.connect(service!);
        await entity.open({ domain });
      } catch {
        // The failure is reported on the entity's `error` event. If the socket is still open (a server that
        // accepts TCP but never answers), close it so that `disconnect` schedules the next attempt.
        if (entity.status !== "disconnect" && !stopping) entity.socket?.destroy?.();
      }
    }, delayMs);
  }

  async function start() {
    stopping = false;
    fatal = null;
    if (entity.status === "online") return;
    return new Promise<void>((resolve, reject) => {
      const offOnline = emitter.once("online", () => {
        offFatal();
        resolve();
      });
      const offFatal = emitter.once("fatal", ({ error }) => {
        offOnline();
        reject(error);
      });
      if (entity.status === "offline") {
        entity.start().catch(() => {
          // Reported through `error`; `disconnect` decides between retry and fatal.
        });
      }
    });
  }

  async function stop() {
    stopping = true;
    clearTimeout(timer);
    timer = undefined;
    if (entity.status === "disconnect") {
      // The socket is gone already: nothing to close, just settle on "offline".
      (entity as { _status?(s: string): void })._status?.("offline");
    } else if (entity.status !== "offline") {
      try {
        await entity.stop();
      } catch {
        entity.socket?.destroy?.();
      }
    }
    online = false;
    emitter.emit("offline", {});
  }

  function dropLink(reason: string) {
    lastReason = reason;
    if (entity.socket?.destroy) entity.socket.destroy();
    else void entity.disconnect().catch(() => undefined);
  }

  return extend(emitter, {
    get online() {
      return online;
    },
    start,
    stop,
    dropLink,
  }) as Lifecycle;
}

