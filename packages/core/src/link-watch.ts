// What the entity's events mean for the link: up (the first time, again, or resumed), down and why, fatal
// or worth another attempt; and one attempt at opening it. https://www.rfc-editor.org/rfc/rfc6120#section-4
import type { TypedEmitter } from "./emitter.js";
import { entitySocket, type XmppEntity } from "./entity.js";
import type { InboundGuard } from "./inbound.js";
import type { LifecycleEvents } from "./lifecycle.js";
import { describeError, fatalStreamError, notXmppError, type LinkError } from "./link-failure.js";
import { OpeningStoppedError, openLink, type LinkTimeouts } from "./open-link.js";
import type { Reconnect } from "./reconnect.js";

/** Stream errors fatal at the first connection (a wrong port, domain or secret) but retried once the link was up. */
const RETRIED_ONCE_UP = new Set(["invalid-namespace", "host-unknown", "improper-addressing"]);

/** What is known of the current link. */
export class LinkStatus {
  online = false;
  everOnline = false;
  everOpened = false;
  /** The server closed the stream (rather than the socket just going). */
  streamClosed = false;
  /** When the link was last lost (`Date.now()`). */
  lostAt = 0;
  /** Why the current connection (or attempt) failed: the first cause seen wins. */
  reason: string | undefined;
  /** While the link is down: why (the loss's reason, or the last failed attempt's). */
  downReason: string | undefined = "not connected yet";

  /** A cause of the current failure (kept only if it is the first). */
  note(why: string): void {
    this.reason ??= why;
  }
}

export interface LinkDeps {
  entity: XmppEntity;
  link: LinkStatus;
  reconnect: Reconnect;
  emitter: TypedEmitter<LifecycleEvents>;
  inbound: InboundGuard;
}

/** Follow the entity's events: keep `link` up to date, emit the lifecycle's events, drive `reconnect`. */
export function watchLink(deps: LinkDeps, options: { tcpKeepAlive?: number | undefined }): void {
  const { entity, link } = deps;
  entity.on("connect", () => {
    const keepAlive = options.tcpKeepAlive ?? 30_000;
    if (keepAlive > 0) entitySocket(entity)?.setKeepAlive?.(true, keepAlive);
  });
  entity.on("open", () => {
    link.everOpened = true;
  });
  entity.on("close", () => {
    link.streamClosed = true;
  });
  entity.on("error", (err: LinkError) => linkError(deps, err));
  entity.on("online", () => linkUp(deps, false));
  // XEP-0198 resumption (clients): xmpp.js sets status "online" without emitting it.
  const sm = (entity as { streamManagement?: { on?(e: string, f: () => void): void } }).streamManagement;
  sm?.on?.("resumed", () => linkUp(deps, true));
  entity.on("disconnect", () => linkDown(deps));
}

function linkError({ entity, link, reconnect, inbound }: LinkDeps, err: LinkError): void {
  // A refused or unsendable stanza is its sender's problem, not a reason for the link to fail.
  if (reconnect.stopping || err.name === "StanzaRefusedError" || err.name === "LinkDownError") return;
  const fatal = fatalStreamError(err);
  // Once the link has been up, the configuration was right: a server that restarts answers these while it
  // starts (Prosody 0.12 and 13 say invalid-namespace on the component port before the component is set up,
  // seen in the e2e suite), so they are retried, with backoff and the condition in the log, not fatal.
  if (fatal && !(link.everOnline && RETRIED_ONCE_UP.has(fatal.condition))) reconnect.fail(fatal);
  else if (err.name === "XMLError" && !link.everOnline && !link.everOpened) reconnect.fail(notXmppError(entity, inbound.firstBytes));
  link.note(describeError(err, entity));
}

function linkUp({ entity, link, reconnect, emitter }: LinkDeps, resumed: boolean): void {
  const reconnected = resumed || link.everOnline;
  if (!resumed) link.everOnline = true;
  link.online = true;
  reconnect.succeeded();
  link.reason = undefined;
  link.downReason = undefined;
  emitter.emit("online", { jid: entity.jid?.toString() ?? "", reconnected, resumed });
  if (reconnected) emitter.emit("link-restored", { downtimeMs: Date.now() - link.lostAt, resumed });
  reconnect.settle();
}

function linkDown({ entity, link, reconnect, emitter, inbound }: LinkDeps): void {
  const first = inbound.firstBytes;
  if (!link.everOnline && !link.everOpened && first && !first.trimStart().startsWith("<") && !reconnect.stopping) {
    // Closed after sending something that is not XML at all (an HTTP server's answer without a body).
    reconnect.fail(notXmppError(entity, first));
  }
  const why = link.reason ?? (link.streamClosed ? "the server closed the stream" : "the connection closed");
  link.downReason = why;
  if (link.online) {
    link.online = false;
    link.lostAt = Date.now();
    emitter.emit("link-lost", { reason: why });
  }
  if (reconnect.stopping) return;
  const fatal = reconnect.fatal;
  if (fatal) {
    emitter.emit("fatal", { error: fatal });
    reconnect.settle(fatal);
    return;
  }
  reconnect.schedule(why);
}

/** One attempt at opening the link; a failure closes the socket, whose `disconnect` schedules the next. */
export async function attemptLink({ entity, link, reconnect, inbound }: LinkDeps, timeouts: Required<LinkTimeouts>): Promise<void> {
  if (!reconnect.retrying || (entity.status !== "offline" && entity.status !== "disconnect")) return;
  link.reason = undefined;
  link.streamClosed = false;
  inbound.reset();
  try {
    await openLink(entity, timeouts, () => reconnect.stopping);
  } catch (err) {
    if (!(err instanceof OpeningStoppedError)) link.note(describeError(err as Error, entity));
    // Close the socket if it is still there: its `disconnect` schedules the next attempt (or reports a
    // fatal error). With no socket, the disconnect has happened already, or the connect never got one.
    const socket = entitySocket(entity);
    if (socket?.destroy) socket.destroy();
    else if (entity.status !== "disconnect" && !reconnect.stopping) {
      link.downReason = link.reason ?? "the connection failed";
      reconnect.schedule(link.downReason);
    }
  }
}

/** Drop the link now for `why`; a reconnect follows. */
export function dropLink({ entity, link }: Pick<LinkDeps, "entity" | "link">, why: string): void {
  link.note(why);
  const socket = entitySocket(entity);
  if (socket?.destroy) socket.destroy();
  else void entity.disconnect().catch(() => undefined);
}
