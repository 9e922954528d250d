import { waitFor } from "@xmppkit/testing";
import { describe, expect, it } from "vitest";
import { createBatchWriter } from "./batch-writer.js";

describe("batch writer", () => {
  it("writes queued rows in batches of at most maxRows, in order", async () => {
    const batches: number[][] = [];
    const w = createBatchWriter<number>({ write: async (rows) => void batches.push(rows), maxRows: 3, maxDelayMs: 10 });
    await Promise.all([1, 2, 3, 4, 5, 6, 7].map((n) => w.push(n)));
    expect(batches.flat()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(Math.max(...batches.map((b) => b.length))).toBeLessThanOrEqual(3);
  });

  it("push resolves only once the row is written", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let writing = false;
    const w = createBatchWriter<number>({
      write: () => {
        writing = true;
        return gate;
      },
      maxDelayMs: 1,
    });
    let done = false;
    const p = w.push(1).then(() => (done = true));
    await waitFor(() => writing, "the write to start");
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    release();
    await p;
    expect(done).toBe(true);
  });

  it("a failing write loses nothing: the batch is retried and keeps its order", async () => {
    const written: number[] = [];
    let failures = 2;
    const errors: number[] = [];
    const w = createBatchWriter<number>({
      write: async (rows) => {
        if (failures-- > 0) throw new Error("database is locked");
        written.push(...rows);
      },
      maxDelayMs: 1,
      onError: (_e, n) => errors.push(n),
    });
    const pushes = [w.push(1), w.push(2)];
    await waitFor(() => errors.length > 0, "the first write to fail");
    pushes.push(w.push(3));
    await Promise.all(pushes);
    expect(written).toEqual([1, 2, 3]);
    expect(errors.length).toBe(2);
  });

  it("close() flushes what is queued, then refuses new rows", async () => {
    const written: number[] = [];
    const w = createBatchWriter<number>({ write: async (rows) => void written.push(...rows), maxDelayMs: 60_000 });
    void w.push(1);
    void w.push(2);
    await w.close();
    expect(written).toEqual([1, 2]);
    await expect(w.push(3)).rejects.toThrow(/closed/);
  });

  it("while the database is down the queue is bounded: rows beyond maxQueued are dropped, counted and told", async () => {
    let down = true;
    const written: number[] = [];
    let drops = 0;
    const w = createBatchWriter<number>({
      write: async (rows) => {
        if (down) throw new Error("connection refused");
        written.push(...rows);
      },
      maxDelayMs: 1,
      maxRows: 10,
      maxQueued: 5,
      onDrop: () => drops++,
    });
    const kept = [1, 2, 3, 4, 5].map((n) => w.push(n));
    const lost = await Promise.allSettled([6, 7].map((n) => w.push(n)));
    expect(lost.map((r) => r.status === "rejected" && (r.reason as Error).name)).toEqual(["QueueFullError", "QueueFullError"]);
    expect([w.queued, w.dropped, drops]).toEqual([5, 2, 2]);
    down = false;
    await w.flush().catch(() => undefined);
    await Promise.all(kept);
    expect(written).toEqual([1, 2, 3, 4, 5]);
  });
});
