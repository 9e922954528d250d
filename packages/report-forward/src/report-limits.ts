// Windows over time, per key: "was this report already forwarded?" and "has this reporter (or this reported
// JID) had its share?". The seed has neither, so one user blocking and unblocking could make the server send
// any number of messages to a remote abuse address.
//
// Memory stays bounded: expired keys are swept as they are met and in a periodic pass, and each key keeps
// at most `limit` timestamps.

export type Clock = () => number;

/** Remembers keys for `windowMs`; `seen(key)` is true for a key seen inside the window (and records it). */
export class DedupeWindow {
  private readonly until = new Map<string, number>();
  private ops = 0;
  constructor(
    readonly windowMs: number,
    private readonly now: Clock = Date.now,
  ) {}

  seen(key: string): boolean {
    const t = this.now();
    this.sweep(t);
    const expires = this.until.get(key);
    if (expires !== undefined && expires > t) return true;
    if (this.windowMs > 0) this.until.set(key, t + this.windowMs);
    return false;
  }

  /** Forget a key (a report that was recorded but then not forwarded). */
  forget(key: string): void {
    this.until.delete(key);
  }

  get size(): number {
    return this.until.size;
  }

  private sweep(t: number) {
    if (++this.ops % 256 !== 0) return;
    for (const [k, expires] of this.until) if (expires <= t) this.until.delete(k);
  }
}

/** At most `limit` events per key in any `windowMs` (a sliding window); `limit` 0 means no limit. */
export class SlidingWindowLimit {
  private readonly hits = new Map<string, number[]>();
  private ops = 0;
  constructor(
    readonly limit: number,
    readonly windowMs: number,
    private readonly now: Clock = Date.now,
  ) {}

  /** Count one event for `key`; false (and nothing counted) when the key is over its limit. */
  take(key: string): boolean {
    if (this.limit <= 0) return true;
    const t = this.now();
    this.sweep(t);
    const recent = (this.hits.get(key) ?? []).filter((h) => h > t - this.windowMs);
    if (recent.length >= this.limit) {
      this.hits.set(key, recent);
      return false;
    }
    recent.push(t);
    this.hits.set(key, recent);
    return true;
  }

  /** When `key` may next take(), in ms from now (0 when it may now). */
  retryAfter(key: string): number {
    const recent = (this.hits.get(key) ?? []).filter((h) => h > this.now() - this.windowMs);
    if (this.limit <= 0 || recent.length < this.limit) return 0;
    return recent[recent.length - this.limit]! + this.windowMs - this.now();
  }

  get size(): number {
    return this.hits.size;
  }

  private sweep(t: number) {
    if (++this.ops % 256 !== 0) return;
    for (const [k, hits] of this.hits) if (!hits.some((h) => h > t - this.windowMs)) this.hits.delete(k);
  }
}
