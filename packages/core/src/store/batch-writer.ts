// Batched writes that never block the caller: rows queue in memory and are written in one transaction per
// batch (every `maxDelayMs` or `maxRows`). `push()` resolves once its row is committed. A failed batch is
// kept and retried with backoff; `close()` flushes what is left. The queue is bounded (`maxQueued`): while
// the database is away, a row beyond the bound is dropped at once (its push rejects with QueueFullError)
// rather than growing memory without limit.
import { backoffDelay } from "../backoff.js";
import { XmppkitError } from "../errors.js";

export interface BatchWriterOptions<T> {
  write(rows: T[]): Promise<void>;
  /** Write when this many rows are queued (default 500). */
  maxRows?: number;
  /** Write at most this long after the first queued row (default 200 ms). */
  maxDelayMs?: number;
  onError?(err: unknown, rows: number): void;
  /** Most rows held in memory (default 100 000); more are dropped. */
  maxQueued?: number;
  /** A row was dropped because the queue was full. */
  onDrop?(): void;
}

/** A row pushed while the queue was full (the database has been unreachable for a while). */
export class QueueFullError extends XmppkitError {
  static override readonly brand = "QueueFullError";
  constructor(limit: number) {
    super(`the write queue is full (${limit} rows waiting for the database)`);
  }
}

export interface BatchWriter<T> {
  /** Queue a row; the promise resolves when it is committed. Callers may ignore it. */
  push(row: T): Promise<void>;
  /** Write everything queued now. */
  flush(): Promise<void>;
  /** Flush and stop; pushes after close() reject. */
  close(): Promise<void>;
  readonly queued: number;
  /** Rows dropped because the queue was full, since the writer was made. */
  readonly dropped: number;
}

interface Entry<T> {
  row: T;
  resolve(): void;
  reject(err: unknown): void;
}

export function createBatchWriter<T>(options: BatchWriterOptions<T>): BatchWriter<T> {
  const maxRows = options.maxRows ?? 500;
  const maxDelay = options.maxDelayMs ?? 200;
  let queue: Entry<T>[] = [];
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> | undefined;
  let failures = 0;
  let closed = false;
  let dropped = 0;
  const maxQueued = options.maxQueued ?? 100_000;

  function schedule(delay: number) {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      flush().catch(() => undefined); // reported through onError; retried by the next schedule
    }, delay);
  }

  async function writeOnce(): Promise<void> {
    const batch = queue.splice(0, maxRows);
    if (!batch.length) return;
    try {
      await options.write(batch.map((e) => e.row));
      failures = 0;
      for (const e of batch) e.resolve();
    } catch (err) {
      failures += 1;
      queue = batch.concat(queue); // keep order, lose nothing
      options.onError?.(err, batch.length);
      throw err;
    }
  }

  async function flush(): Promise<void> {
    if (writing) await writing.catch(() => undefined);
    clearTimeout(timer);
    timer = undefined;
    writing = (async () => {
      while (queue.length) await writeOnce();
    })();
    try {
      await writing;
    } catch (err) {
      if (!closed) schedule(backoffDelay(failures - 1, { initial: 500, max: 30_000 }));
      throw err;
    } finally {
      writing = undefined;
    }
  }

  return {
    push(row) {
      if (closed) return Promise.reject(new Error("batch writer is closed"));
      if (queue.length >= maxQueued) {
        dropped += 1;
        options.onDrop?.();
        return Promise.reject(new QueueFullError(maxQueued));
      }
      return new Promise<void>((resolve, reject) => {
        queue.push({ row, resolve, reject });
        if (queue.length >= maxRows) void flush().catch(() => undefined);
        else schedule(maxDelay);
      });
    },
    flush: () => flush(),
    async close() {
      closed = true;
      clearTimeout(timer);
      try {
        await flush();
      } catch (err) {
        for (const e of queue.splice(0)) e.reject(err);
        throw err;
      }
    },
    get queued() {
      return queue.length;
    },
    get dropped() {
      return dropped;
    },
  };
}
