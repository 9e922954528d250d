// The write path that bench/audit.mjs times: time-ordered ids (uuid's v7), events batched with one
// promise per batch, rows made when a batch is written. These pin what must not change with it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { QueueFullError, type Store } from "@xmppkit/core";
import { openSqliteStore } from "@xmppkit/runtime";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { AUDIT_TABLE, eventId, openAuditLog } from "./audit-log.js";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("the audit log's write path", () => {
  const dir = mkdtempSync(join(tmpdir(), "xmppkit-audit-batching-"));
  let store: Store | undefined;
  let n = 0;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A fresh store whose insertMany calls are counted (rows per transaction). */
  async function counted() {
    store = await openSqliteStore(join(dir, `audit${++n}.sqlite`));
    const insertMany = store.insertMany.bind(store);
    const batches: number[] = [];
    store.insertMany = async (table, columns, rows) => {
      batches.push(rows.length);
      return insertMany(table, columns, rows);
    };
    return batches;
  }

  it("100,000 records: every id unique, UUIDv7, in recording order, and every event committed", async () => {
    await counted();
    const audit = await openAuditLog({ store: store! }, { host: "h" });
    const events = await Promise.all(Array.from({ length: 100_000 }, (_, i) => audit.record({ type: "t", module: "m", details: { i } })));
    const ids = events.map((e) => e.id);
    expect(new Set(ids).size).toBe(100_000);
    expect(ids.every((id) => UUID_V7.test(id))).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    const [count] = await store!.query<{ n: number; d: number }>(`SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d FROM ${AUDIT_TABLE}`);
    expect([Number(count!.n), Number(count!.d)]).toEqual([100_000, 100_000]);
    await audit.close();
  });

  it("ids: 5,000 in one millisecond are distinct, in order, and carry that millisecond", () => {
    const ids = Array.from({ length: 5000 }, () => eventId(1_800_000_000_000 + 10_000));
    expect(new Set(ids).size).toBe(5000);
    expect([...ids].sort()).toEqual(ids);
    // 48 bits of milliseconds up front (UUIDv7)
    const ms = (id: string) => Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    expect(ms(ids[0]!)).toBe(1_800_000_010_000);
  });

  it("batches of batch.maxRows rows per transaction; a partial batch after batch.maxDelayMs", async () => {
    const batches = await counted();
    const audit = await openAuditLog({ store: store! }, { host: "h", batch: { maxRows: 500, maxDelayMs: 20 } });
    await Promise.all(Array.from({ length: 1200 }, () => audit.record({ type: "t", module: "m" })));
    expect(batches).toEqual([500, 500, 200]);
    const t0 = Date.now();
    await audit.record({ type: "alone", module: "m" });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(15);
    expect(batches).toEqual([500, 500, 200, 1]);
    expect(audit.queued).toBe(0);
    await audit.close();
  });

  it("flush() writes the open batch now; close() writes what is left, and later records are refused", async () => {
    const batches = await counted();
    const audit = await openAuditLog({ store: store! }, { host: "h", batch: { maxDelayMs: 60_000 } });
    const a = audit.record({ type: "a", module: "m" });
    expect(audit.queued).toBe(1);
    await audit.flush();
    await a;
    expect([batches, audit.queued]).toEqual([[1], 0]);
    void audit.record({ type: "b", module: "m" });
    await audit.close();
    expect(batches).toEqual([1, 1]);
    await expect(audit.record({ type: "c", module: "m" })).rejects.toThrow(/closed/);
  });

  it("what is stored is the event as recorded, whatever the producer changes afterwards", async () => {
    await counted();
    const audit = await openAuditLog({ store: store! }, { host: "h", batch: { maxDelayMs: 60_000 } });
    const time = new Date("2026-11-20T10:00:00Z");
    const details = { method: "POST", status: 200 };
    const pending = audit.record({ type: "t", module: "m", time, details });
    time.setTime(0);
    details.status = 500;
    await audit.flush();
    const recorded = await pending;
    expect(recorded.time.toISOString()).toBe("2026-11-20T10:00:00.000Z");
    expect(recorded.details).toEqual({ method: "POST", status: 200 });
    expect((await audit.query()).events).toEqual([recorded]);
    await audit.close();
  });

  it("a full queue refuses with QueueFullError and counts the drop", async () => {
    await counted();
    let drops = 0;
    const audit = await openAuditLog({ store: store!, onDrop: () => drops++ }, { host: "h", maxQueued: 3, batch: { maxDelayMs: 60_000 } });
    const kept = [1, 2, 3].map(() => audit.record({ type: "t", module: "m" }));
    const refused = audit.record({ type: "t", module: "m" });
    await expect(refused).rejects.toSatisfy((err) => QueueFullError.isInstance(err));
    expect([audit.queued, audit.dropped, drops]).toEqual([3, 1, 1]);
    await audit.close();
    await Promise.all(kept);
  });
});
