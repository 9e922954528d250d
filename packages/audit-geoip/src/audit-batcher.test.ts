import { QueueFullError } from "@xmppkit/core";
import { fakeTime } from "@xmppkit/testing";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AuditEvent } from "./audit-event.js";
import { createAuditBatcher } from "./audit-batcher.js";
import { AUDIT_TABLE } from "./audit-schema.js";

const time = fakeTime(vi);
const event = (n: number): AuditEvent => ({ id: `id-${n}`, time: new Date(0), type: "t", host: "h", module: "m" });

describe("the audit batcher", () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] }));
  afterEach(() => vi.useRealTimers());

  /** A store that keeps the rows of each insertMany (one per transaction). */
  function fakeStore() {
    const written: { table: string; ids: unknown[] }[] = [];
    return {
      written,
      store: { insertMany: async (table: string, _columns: string[], rows: unknown[][]) => void written.push({ table, ids: rows.map((r) => r[0]) }) },
    };
  }

  it("writes a batch when it is full, and a partial one maxDelayMs after its first event", async () => {
    const { store, written } = fakeStore();
    const batcher = createAuditBatcher({ store }, { maxRows: 2, maxDelayMs: 100, maxQueued: 10 });
    const done = [1, 2, 3].map((n) => batcher.enqueue(event(n)));
    await time.flush();
    expect(written).toEqual([{ table: AUDIT_TABLE, ids: ["id-1", "id-2"] }]);
    expect(batcher.queued).toBe(1);
    await time.sleep(100);
    expect(written.map((w) => w.ids)).toEqual([["id-1", "id-2"], ["id-3"]]);
    expect((await Promise.all(done)).map((e) => e.id)).toEqual(["id-1", "id-2", "id-3"]);
    expect(batcher.queued).toBe(0);
  });

  it("refuses beyond maxQueued (counted, onDrop called), and everything once closed", async () => {
    const { store } = fakeStore();
    let drops = 0;
    const batcher = createAuditBatcher({ store, onDrop: () => drops++ }, { maxRows: 10, maxDelayMs: 60_000, maxQueued: 2 });
    void batcher.enqueue(event(1));
    void batcher.enqueue(event(2));
    expect(QueueFullError.isInstance(batcher.refusal())).toBe(true);
    expect([batcher.dropped, drops]).toEqual([1, 1]);
    await batcher.close();
    expect(batcher.queued).toBe(0);
    expect(batcher.refusal()?.message).toBe("the audit log is closed");
    expect(batcher.dropped).toBe(1);
  });
});
