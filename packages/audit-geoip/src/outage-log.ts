// What the audit log says of a database outage: once when writes start failing, once when the queue
// first overflows, once when writes work again (with what was lost), never at every retry.
import type { Logger } from "@xmppkit/core";

export interface OutageLog {
  /** A write failed; said only if no outage was under way. `dropped`: events dropped so far, in all. */
  failed(err: unknown, rows: number, dropped: number): void;
  /** An event was just dropped (the queue is full); said for the first one of an outage. */
  dropping(dropped: number): void;
  /** A write succeeded; ends the outage under way, if any. */
  recovered(dropped: number): void;
}

export function createOutageLog(logger: Logger | undefined, maxQueued: number, now: () => number = Date.now): OutageLog {
  let outage: { since: number; droppedBefore: number } | undefined;
  return {
    failed(err, rows, dropped) {
      if (outage) return;
      outage = { since: now(), droppedBefore: dropped };
      logger?.error({ err, rows, maxQueued }, "writing audit events failed; they are kept in memory (up to maxQueued) and retried");
    },
    dropping(dropped) {
      if (outage && dropped - outage.droppedBefore === 1)
        logger?.error({ maxQueued }, "the audit queue is full: events are dropped until the database is back");
    },
    recovered(dropped) {
      if (!outage) return;
      const lost = dropped - outage.droppedBefore;
      logger?.info(
        { downMs: now() - outage.since, dropped: lost },
        lost ? `audit writes work again; ${lost} events were dropped while the database was unreachable` : "audit writes work again; nothing was lost",
      );
      outage = undefined;
    },
  };
}
