// The desk's outbox: the store it lives in (the gateway's, or memory), the delivery rounds it runs, and the
// completions it settles. Accepted reports go in through `enqueue`.
import type { Logger, Store } from "@xmppkit/core";
import type { Completions } from "./completions.js";
import {
  createOutbox,
  memoryOutboxStore,
  sqlOutboxStore,
  type Outbox,
  type OutboxDeps,
  type OutboxEntry,
  type OutboxOptions,
  type OutboxStore,
} from "./outbox.js";
import type { Destination } from "./report-types.js";

export interface ReportOutboxDeps {
  /** Where accepted reports wait for delivery; without it they wait in memory only. */
  store?: Store | undefined;
  lifecycle: OutboxDeps["lifecycle"];
  deliver: OutboxDeps["deliver"];
  deliverGroup?: OutboxDeps["deliverGroup"];
  completions: Completions;
  logger: Logger;
}

export interface ReportOutbox {
  /** Store `entry` and deliver it: `stored` once it is stored, `forwarded` once every destination is settled. */
  enqueue(entry: OutboxEntry): { stored: Promise<void>; forwarded: Promise<Destination[]> };
  /** Reports not yet delivered everywhere (0 until the outbox is loaded). */
  readonly size: number;
  /** Resolves when reports left by a previous run are loaded (and being delivered). */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

export function createReportOutbox(deps: ReportOutboxDeps, options?: OutboxOptions): ReportOutbox {
  const { lifecycle, completions, logger: log } = deps;
  const outboxStore: Promise<OutboxStore> = deps.store ? sqlOutboxStore(deps.store) : Promise.resolve(memoryOutboxStore());
  const outboxReady = outboxStore.then((store) =>
    createOutbox(
      {
        store,
        lifecycle,
        deliver: deps.deliver,
        ...(deps.deliverGroup ? { deliverGroup: deps.deliverGroup } : {}),
        onFinished(entry, gaveUp) {
          if (gaveUp) log.error({ id: entry.id }, "a report could not be delivered everywhere before report_forward_max_age; it was given up");
          completions.finish(entry.id);
        },
        logger: log,
      },
      options,
    ),
  );
  const ready = outboxReady.then((box) => box.start());
  ready.catch((err: unknown) => log.error({ err }, "the report outbox could not be loaded"));
  let outbox: Outbox | undefined;
  void outboxReady.then(
    (b) => (outbox = b),
    () => undefined,
  );

  return {
    enqueue(entry) {
      const forwarded = completions.expect(entry.id);
      const stored = outboxReady.then((box) => box.add(entry));
      stored.catch((err: unknown) => {
        completions.forget(entry.id);
        // Expected while the store is away (the submitter is told: HTTP 503, an IQ error of type wait): one line.
        log.warn({ err: (err as Error).message, id: entry.id }, "could not store an accepted report in the outbox; it was not accepted");
      });
      return { stored, forwarded };
    },
    get size() {
      return outbox?.size ?? 0;
    },
    ready,
    async stop() {
      await outbox?.stop();
    },
  };
}
