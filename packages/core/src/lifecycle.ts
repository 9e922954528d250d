// Connection lifecycle: opening the link in time-boxed steps, reconnecting with backoff and jitter, fatal
// errors, and one honest reason for every failure. https://www.rfc-editor.org/rfc/rfc6120#section-4
//
// xmpp.js's @xmpp/reconnect waits a fixed 1 s and retries forever, even after `not-authorized`,
// and its opening steps can wait for ever. This replaces it:
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
//
// The parts: the open–reconnect state machine (reconnect.ts), what the entity's events mean for the link
// (link-watch.ts), why a link failed (link-failure.ts), closing it (close-link.ts); composed here.
import type { BackoffOptions } from "./backoff.js";
import { closeLink } from "./close-link.js";
import { TypedEmitter, extend, type ListenerErrorHandler } from "./emitter.js";
import type { XmppEntity } from "./entity.js";
import { guardInbound } from "./inbound.js";
import { LinkStatus, attemptLink, dropLink, watchLink, type LinkDeps } from "./link-watch.js";
import { DEFAULT_LINK_TIMEOUTS, type LinkTimeouts } from "./open-link.js";
import { Reconnect } from "./reconnect.js";

export { FatalConnectionError, LinkStoppedError } from "./link-failure.js";

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

export function setupLifecycle({ entity }: { entity: XmppEntity }, options: LifecycleOptions = {}): Lifecycle {
  entity.reconnect?.stop();
  // @xmpp/component does not forward its `timeout` option; 2 s is short for a busy server.
  if (!entity.timeout || entity.timeout < 10_000) entity.timeout = 10_000;
  const timeouts = { ...DEFAULT_LINK_TIMEOUTS, ...options.timeouts };

  const emitter = new TypedEmitter<LifecycleEvents>(options.onListenerError);
  const link = new LinkStatus();
  const reconnect = new Reconnect({
    attempt: () => void attemptLink(deps, timeouts),
    scheduled: (event) => emitter.emit("reconnecting", event),
    backoff: options.backoff,
  });
  const inbound = guardInbound(entity, { maxBytes: options.maxInboundStanzaBytes, onOversize: (why) => link.note(why) });
  const deps: LinkDeps = { entity, link, reconnect, emitter, inbound };
  watchLink(deps, options);

  async function stop() {
    reconnect.stop();
    await closeLink(entity, timeouts.close);
    link.online = false;
    emitter.emit("offline", {});
  }

  return extend(emitter, {
    get online() {
      return link.online;
    },
    get downReason() {
      return link.online ? undefined : reconnect.stopping ? "stopping" : link.downReason;
    },
    get stopping() {
      return reconnect.stopping;
    },
    start: () => (link.online ? Promise.resolve() : reconnect.start()),
    endReconnects: () => reconnect.stop(),
    stop,
    dropLink: (why: string) => dropLink(deps, why),
  }) as Lifecycle;
}
