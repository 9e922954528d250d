// Events are recorded in batches of up to `maxRows`, sealed when full or `maxDelayMs` after their first
// event, and each sealed batch is one entry (one transaction) of core's batch writer, which keeps failed
// batches in order and retries them with backoff. The events of a batch share one promise: a queued event
// costs the event and one `then`, not a promise, its resolvers and a queue entry of its own, and its row is
// made when its batch is written (the event is handed to no one before that, so the row is the event as
// recorded). With 100k events queued, garbage collection was a fifth of the time.
import { createBatchWriter, QueueFullError, type Logger, type Store } from "@xmppkit/core";
import type { AuditEvent } from "./audit-event.js";
import { createOutageLog } from "./outage-log.js";
import { AUDIT_COLUMNS, AUDIT_TABLE, toRow } from "./audit-schema.js";

export interface AuditBatcherOptions {
  maxRows: number;
  maxDelayMs: number;
  /** Most events held (queued, not committed); more are refused with QueueFullError and counted. */
  maxQueued: number;
}

export interface AuditBatcher {
  /** Why an event cannot be taken now (closed, or the queue is full: counted as dropped), or undefined. */
  refusal(): Error | undefined;
  /** Queue an event; resolves with it once its batch is committed. */
  enqueue(event: AuditEvent): Promise<AuditEvent>;
  /** Write everything queued now. */
  flush(): Promise<void>;
  /** Flush and take no more events. */
  close(): Promise<void>;
  readonly queued: number;
  readonly dropped: number;
}

interface Batch {
  events: AuditEvent[];
  done: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

export function createAuditBatcher(
  deps: { store: Pick<Store, "insertMany">; logger?: Logger | undefined; onDrop?: (() => void) | undefined },
  { maxRows, maxDelayMs, maxQueued }: AuditBatcherOptions,
): AuditBatcher {
  const outage = createOutageLog(deps.logger, maxQueued);
  let open: Batch | undefined;
  let timer: NodeJS.Timeout | undefined;
  let queued = 0; // recorded, not yet committed (nor given up at close)
  let dropped = 0;
  let closed = false;
  let writing = 0; // rows of the batch being written, for the error log
  const writer = createBatchWriter<Batch>({
    write: async (batches) => {
      const rows: unknown[][] = [];
      for (const batch of batches) for (const e of batch.events) rows.push(toRow(e));
      writing = rows.length;
      await deps.store.insertMany(AUDIT_TABLE, AUDIT_COLUMNS, rows);
      queued -= rows.length;
      outage.recovered(dropped);
    },
    maxRows: 1, // an entry is a whole batch: written as soon as it is sealed
    maxDelayMs,
    maxQueued: Number.POSITIVE_INFINITY, // bounded here, in events
    onError: (err) => outage.failed(err, writing, dropped),
  });

  function seal(): void {
    clearTimeout(timer);
    timer = undefined;
    const batch = open;
    if (!batch) return;
    open = undefined;
    writer.push(batch).then(batch.resolve, (err: unknown) => {
      queued -= batch.events.length; // given up (a close that could not write them)
      batch.reject(err);
    });
  }

  return {
    refusal() {
      if (closed) return new Error("the audit log is closed");
      if (queued < maxQueued) return undefined;
      dropped++;
      outage.dropping(dropped);
      deps.onDrop?.();
      return new QueueFullError(maxQueued);
    },
    enqueue(event) {
      if (!open) {
        open = newBatch();
        timer = setTimeout(seal, maxDelayMs);
      }
      const batch = open;
      batch.events.push(event);
      queued++;
      const committed = batch.done.then(() => event);
      if (batch.events.length >= maxRows) seal();
      return committed;
    },
    flush() {
      seal();
      return writer.flush();
    },
    close() {
      closed = true;
      seal();
      return writer.close();
    },
    get queued() {
      return queued;
    },
    get dropped() {
      return dropped;
    },
  };
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { events: [], done, resolve, reject };
}
