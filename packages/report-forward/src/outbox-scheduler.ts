// When the outbox runs its delivery rounds: now while the link is up (`kick`), and at the earliest entry's
// due time (`arm`); at most `concurrency` rounds at once, never two for one entry.
import type { Lifecycle } from "@xmppkit/core";
import type { OutboxEntry } from "./outbox.js";

export interface OutboxSchedulerDeps {
  lifecycle: Pick<Lifecycle, "online">;
  /** The entries waiting (the scheduler reads them; `round` removes what it finished). */
  entries: ReadonlyMap<string, OutboxEntry>;
  /** Entries whose round is running now. */
  inFlight: ReadonlySet<string>;
  /** Run one delivery round of `entry`; never throws. */
  round(entry: OutboxEntry): Promise<void>;
  now: () => number;
}

export class OutboxScheduler {
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly deps: OutboxSchedulerDeps,
    private readonly concurrency: number,
  ) {}

  /** Run what is due now (unless rounds already run, or the link is down); then wake up for the next. */
  kick(): void {
    if (this.stopped || !this.deps.lifecycle.online) return;
    this.draining ??= this.drainLoop().finally(() => {
      this.draining = undefined;
      this.arm();
    });
  }

  /** Wake up when the earliest entry is due. */
  arm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const { entries, now } = this.deps;
    if (this.stopped || !entries.size) return;
    const next = Math.min(...[...entries.values()].map((e) => e.nextAt));
    this.timer = setTimeout(() => this.kick(), Math.max(0, next - now()));
    this.timer.unref();
  }

  /**
   * Start no more rounds. A round still waiting for confirmations is not waited for long (2 s): its reports
   * stay stored, and are delivered (again, at worst) by the next start.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await Promise.race([this.draining?.catch(() => undefined), new Promise((r) => setTimeout(r, 2000).unref())]);
  }

  private due(): OutboxEntry[] {
    const t = this.deps.now();
    const { entries, inFlight } = this.deps;
    return [...entries.values()].filter((e) => e.nextAt <= t && !inFlight.has(e.id)).sort((a, b) => a.nextAt - b.nextAt);
  }

  private async drainLoop() {
    while (!this.stopped && this.deps.lifecycle.online) {
      const batch = this.due().slice(0, this.concurrency);
      if (!batch.length) break;
      await Promise.all(batch.map((e) => this.deps.round(e)));
    }
  }
}
