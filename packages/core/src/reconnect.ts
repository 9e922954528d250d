// The open–reconnect state machine, after xmpp.js's `Reconnect` (@xmpp/reconnect: start, stop,
// scheduleReconnect), with what it lacks: a backoff with jitter instead of a fixed second, an end after a
// fatal error, and a start() that settles when the link is up (or will not be).
// https://www.rfc-editor.org/rfc/rfc6120#section-3.3
//
// One attempt at a time: an attempt reports its outcome back (succeeded() and settle() when the link is up,
// schedule() after a failure, fail() when no retry will help); once stopping, nothing is attempted any more.
import { backoffDelay, type BackoffOptions } from "./backoff.js";
import { LinkStoppedError } from "./link-failure.js";

export interface ReconnectDeps {
  /** Open the link once. Its outcome comes back through succeeded(), schedule() or fail(). */
  attempt(): void;
  /** An attempt is scheduled (`attempt` counts from 1 since the link was last up). */
  scheduled(event: { attempt: number; delayMs: number; reason: string }): void;
  backoff?: BackoffOptions | undefined;
}

export class Reconnect {
  readonly #deps: ReconnectDeps;
  #stopping = false;
  #fatal: Error | null = null;
  #retries = 0;
  #timer: NodeJS.Timeout | undefined;
  #waiting: { resolve(): void; reject(err: Error): void } | undefined;

  constructor(deps: ReconnectDeps) {
    this.#deps = deps;
  }

  /** True from stop() until the next start(). */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** The error that ended the attempts, until the next start(). */
  get fatal(): Error | null {
    return this.#fatal;
  }

  /** Whether a failed attempt is to be followed by another: neither stopping nor ended by a fatal error. */
  get retrying(): boolean {
    return !this.#stopping && !this.#fatal;
  }

  /** Attempt now (unless an attempt is already scheduled); settled by settle(), and rejected by stop(). */
  start(): Promise<void> {
    this.#stopping = false;
    this.#fatal = null;
    return new Promise<void>((resolve, reject) => {
      this.settle(new LinkStoppedError()); // a previous start() that was still waiting
      this.#waiting = { resolve, reject };
      if (!this.#timer) this.#deps.attempt();
    });
  }

  /** No more attempts: the scheduled one is cancelled and a waiting start() rejects with LinkStoppedError. */
  stop(): void {
    this.#stopping = true;
    this.#cancel();
    this.settle(new LinkStoppedError());
  }

  /** The last attempt (or the link) failed for `reason`: try again after the backoff, unless one is scheduled already. */
  schedule(reason: string): void {
    if (this.#timer || !this.retrying) return;
    const delayMs = backoffDelay(this.#retries, this.#deps.backoff);
    this.#retries += 1;
    this.#deps.scheduled({ attempt: this.#retries, delayMs, reason });
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#deps.attempt();
    }, delayMs);
  }

  /** No retry will fix the link: no more attempts until the next start(). The first error stays. */
  fail(error: Error): void {
    this.#fatal ??= error;
    this.#cancel();
  }

  /** The link is up: the backoff starts over (a waiting start() is settled apart, with settle()). */
  succeeded(): void {
    this.#retries = 0;
  }

  /** Settle a waiting start(): resolve it, or reject it with `err`. */
  settle(err?: Error): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (!waiting) return;
    if (err) waiting.reject(err);
    else waiting.resolve();
  }

  #cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
