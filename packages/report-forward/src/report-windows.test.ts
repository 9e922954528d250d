// Rate-limit and dedupe windows: one contract run in memory, on SQLite and on a real PostgreSQL; then what
// only a store can do: survive a restart (a SQLite file) and be shared by two gateways on one PostgreSQL.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Store } from "@xmppkit/core";
import { openPostgresStore, openSqliteStore } from "@xmppkit/runtime";
import { startPostgres, type Postgres } from "@xmppkit/testing";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { sqlOutboxStore } from "./outbox.js";
import { memoryReportWindows, REPORT_WINDOW_MIGRATIONS, sqlReportWindows, type ReportWindows, type WindowCheck } from "./report-windows.js";

const T0 = 1_700_000_000_000;
let now = T0;
const clock = () => now;
/** Set the fake clock to T0 + ms. */
const at = (ms: number) => {
  now = T0 + ms;
};
const MIN = 60_000;
const HOUR = 60 * MIN;
const check = (key: string, limit: number, windowMs = MIN): WindowCheck => ({ key, limit, windowMs });

const stores: Store[] = [];
const dirs: string[] = [];
beforeEach(() => at(0));
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function tracked(open: Promise<Store>): Promise<Store> {
  const s = await open;
  stores.push(s);
  return s;
}
function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), "report-windows-"));
  dirs.push(dir);
  return join(dir, "gateway.db");
}
const count = async (store: Store, table: string) => Number((await store.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table}`))[0]!.n);
const oks = (results: { ok: boolean }[]) => results.filter((r) => r.ok).length;

function windowsContract(make: () => Promise<ReportWindows>) {
  it("refuses a key at its limit, naming it, with when it may take again; other keys are not affected", async () => {
    const w = await make();
    for (const ms of [0, 1000, 2000]) {
      at(ms);
      expect(await w.take([check("reporter:a", 3)])).toEqual({ ok: true });
    }
    at(5000);
    expect(await w.take([check("reporter:a", 3)])).toEqual({ ok: false, key: "reporter:a", retryAfterMs: MIN - 5000 });
    expect(await w.take([check("reporter:b", 3)])).toEqual({ ok: true });
  });

  it("retryAfterMs is when the (limit)th newest hit leaves the window", async () => {
    const w = await make();
    for (const ms of [0, 10_000, 20_000]) {
      at(ms);
      await w.hit("k", MIN);
    }
    at(30_000);
    expect(await w.take([check("k", 2)])).toEqual({ ok: false, key: "k", retryAfterMs: 10_000 + MIN - 30_000 });
  });

  it("the window slides: hits older than windowMs no longer count", async () => {
    const w = await make();
    const c = [check("k", 2, 1000)];
    expect(await w.take(c)).toEqual({ ok: true });
    at(500);
    expect(await w.take(c)).toEqual({ ok: true });
    at(999);
    expect(await w.take(c)).toEqual({ ok: false, key: "k", retryAfterMs: 1 });
    at(1000);
    expect(await w.take(c)).toEqual({ ok: true });
    at(1001);
    expect(await w.take(c)).toEqual({ ok: false, key: "k", retryAfterMs: 499 });
  });

  it("several checks: all or nothing, and the first key over its limit is named", async () => {
    const w = await make();
    expect(await w.take([check("a", 5), check("b", 1)])).toEqual({ ok: true });
    expect(await w.take([check("a", 5), check("b", 1)])).toEqual({ ok: false, key: "b", retryAfterMs: MIN });
    expect(await w.hit("a", MIN)).toBe(2); // the refused take counted nothing for "a"
    expect(await w.take([check("c", 1)])).toEqual({ ok: true });
    at(1000);
    expect(await w.take([check("a", 5), check("c", 1), check("b", 1)])).toEqual({ ok: false, key: "c", retryAfterMs: MIN - 1000 });
    expect(await w.hit("a", MIN)).toBe(3);
  });

  it("limit 0 is unlimited and counts nothing", async () => {
    const w = await make();
    for (let i = 0; i < 10; i++) expect(await w.take([check("k", 0)])).toEqual({ ok: true });
    expect(await w.hit("k", MIN)).toBe(1);
    expect(await w.take([check("k", 0), check("j", 1)])).toEqual({ ok: true });
    expect(await w.take([check("k", 0), check("j", 1)])).toEqual({ ok: false, key: "j", retryAfterMs: MIN });
  });

  it("one key named by two checks is counted once and held to both limits", async () => {
    const w = await make();
    const both = [check("r", 2, MIN), check("r", 3, HOUR)];
    expect(await w.take(both)).toEqual({ ok: true });
    expect(await w.take(both)).toEqual({ ok: true });
    expect(await w.take(both)).toEqual({ ok: false, key: "r", retryAfterMs: MIN });
    at(MIN);
    expect(await w.take(both)).toEqual({ ok: true });
    at(2 * MIN);
    expect(await w.take(both)).toEqual({ ok: false, key: "r", retryAfterMs: HOUR - 2 * MIN });
  });

  it("hit counts whatever the count, this hit included, inside its window; take sees those hits", async () => {
    const w = await make();
    expect(await w.hit("k", 1000)).toBe(1);
    at(100);
    expect(await w.hit("k", 1000)).toBe(2);
    expect(await w.hit("other", 1000)).toBe(1);
    at(1050);
    expect(await w.hit("k", 1000)).toBe(2);
    expect(await w.take([check("k", 2, 1000)])).toEqual({ ok: false, key: "k", retryAfterMs: 50 });
  });

  it("seen: true inside the window, the record left as it was; false after it", async () => {
    const w = await make();
    expect(await w.seen("report-1", 1000)).toBe(false);
    at(999);
    expect(await w.seen("report-1", 1000)).toBe(true);
    at(1000);
    expect(await w.seen("report-1", 1000)).toBe(false); // not extended by the seen at 999
    at(1999);
    expect(await w.seen("report-1", 1000)).toBe(true);
    expect(await w.seen("report-2", 1000)).toBe(false);
  });

  it("seen with windowMs 0 is always false and records nothing; forget removes a key", async () => {
    const w = await make();
    expect(await w.seen("k", 0)).toBe(false);
    expect(await w.seen("k", 0)).toBe(false);
    expect(await w.seen("k", 1000)).toBe(false);
    expect(await w.seen("k", 1000)).toBe(true);
    await w.forget("k");
    expect(await w.seen("k", 1000)).toBe(false);
    expect(await w.seen("k", 1000)).toBe(true);
    await w.forget("never-seen");
  });

  it("long keys (10 kB) work, and keys differing only at the end are distinct", async () => {
    const w = await make();
    const long = "x".repeat(10_000);
    expect(await w.take([check(`${long}a`, 1)])).toEqual({ ok: true });
    expect(await w.take([check(`${long}a`, 1)])).toEqual({ ok: false, key: `${long}a`, retryAfterMs: MIN });
    expect(await w.take([check(`${long}b`, 1)])).toEqual({ ok: true });
    expect(await w.hit(`${long}a`, MIN)).toBe(2);
    expect(await w.seen(`${long}a`, MIN)).toBe(false);
    expect(await w.seen(`${long}a`, MIN)).toBe(true);
    expect(await w.seen(`${long}b`, MIN)).toBe(false);
  });

  it("concurrent calls on one instance: exactly `limit` takes succeed, one seen of a new key is false", async () => {
    const w = await make();
    const takes = await Promise.all(Array.from({ length: 20 }, () => w.take([check("k", 5)])));
    expect(oks(takes)).toBe(5);
    const seen = await Promise.all(Array.from({ length: 20 }, () => w.seen("new", MIN)));
    expect(seen.filter((s) => !s)).toHaveLength(1);
  });

  it("purge keeps what a window still needs, and later calls still work", async () => {
    const w = await make();
    await w.take([check("k", 1, HOUR)]);
    await w.seen("d", HOUR);
    at(30 * MIN);
    await w.purge();
    expect(await w.take([check("k", 1, HOUR)])).toEqual({ ok: false, key: "k", retryAfterMs: 30 * MIN });
    expect(await w.seen("d", HOUR)).toBe(true);
    at(HOUR);
    await w.purge();
    expect(await w.take([check("k", 1, HOUR)])).toEqual({ ok: true });
    expect(await w.seen("d", HOUR)).toBe(false);
  });

  it("many calls (past the periodic purge) keep their answers", async () => {
    const w = await make();
    for (let i = 0; i < 300; i++) {
      at(i * 10);
      expect(await w.take([check("busy", 100, 1000)])).toEqual({ ok: true });
    }
    at(3000);
    expect(await w.hit("busy", 1000)).toBe(100);
  });
}

/** What only a SQL store shows: rows are purged, migrations compose with the outbox's. */
function sqlContract(open: () => Promise<Store>) {
  it("purge() and the periodic purge delete expired hits and dedupe keys", async () => {
    const store = await open();
    const w = await sqlReportWindows(store, clock);
    for (let i = 0; i < 10; i++) {
      await w.seen(`d${i}`, 1000);
      await w.take([check(`k${i}`, 1, 1000)]);
    }
    expect(await count(store, "xmppkit_report_hits")).toBe(10);
    expect(await count(store, "xmppkit_report_seen")).toBe(10);
    at(1000);
    await w.purge();
    expect(await count(store, "xmppkit_report_hits")).toBe(0);
    expect(await count(store, "xmppkit_report_seen")).toBe(0);
    for (let i = 0; i < 10; i++) await w.seen(`e${i}`, 1000);
    at(2000);
    for (let i = 0; i < 256 - 30; i++) await w.seen("live", 10 * HOUR); // call 256 purges
    expect(await count(store, "xmppkit_report_seen")).toBe(1);
  });

  it("windows set up before the outbox, after it, or at the same time: all work, each version applied once", async () => {
    for (const order of ["windows first", "outbox first", "together"] as const) {
      const store = await open();
      const [w, box] =
        order === "windows first"
          ? [await sqlReportWindows(store, clock), await sqlOutboxStore(store)]
          : order === "outbox first"
            ? await sqlOutboxStore(store).then(async (box) => [await sqlReportWindows(store, clock), box] as const)
            : await Promise.all([sqlReportWindows(store, clock), sqlOutboxStore(store)]);
      expect(await w.take([check("k", 1)])).toEqual({ ok: true });
      expect(await box.load()).toEqual([]);
      const rows = await store.query<{ version: number | string }>("SELECT version FROM xmppkit_migrations WHERE owner = ? ORDER BY version", [
        "report-forward",
      ]);
      expect(rows.map((r) => Number(r.version))).toEqual([1, REPORT_WINDOW_MIGRATIONS[0]!.version]);
    }
  });
}

describe("memory windows", () => {
  windowsContract(async () => memoryReportWindows(clock));
});

describe("SQLite windows", () => {
  const open = () => tracked(openSqliteStore(":memory:"));
  windowsContract(async () => sqlReportWindows(await open(), clock));
  sqlContract(open);

  it("a restarted gateway (a new instance on the same file) sees the earlier hits and dedupe keys", async () => {
    const file = tempFile();
    const before = await openSqliteStore(file);
    const w1 = await sqlReportWindows(before, clock);
    expect(await w1.take([check("reporter", 2, HOUR)])).toEqual({ ok: true });
    at(1000);
    expect(await w1.take([check("reporter", 2, HOUR)])).toEqual({ ok: true });
    expect(await w1.seen("report-1", HOUR)).toBe(false);
    await before.close();

    at(MIN);
    const after = await tracked(openSqliteStore(file));
    const w2 = await sqlReportWindows(after, clock);
    await w2.purge(); // a fresh instance, asked for no window yet, must not wipe what others need
    expect(await w2.take([check("reporter", 2, HOUR)])).toEqual({ ok: false, key: "reporter", retryAfterMs: HOUR - MIN });
    expect(await w2.seen("report-1", HOUR)).toBe(true);
    expect(await w2.hit("reporter", HOUR)).toBe(3);
  });
});

describe("PostgreSQL windows (real server)", () => {
  let pg: Postgres;
  beforeAll(async () => {
    pg = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
  });
  const open = async () => tracked(openPostgresStore(await pg.createDatabase()));
  windowsContract(async () => sqlReportWindows(await open(), clock));
  sqlContract(open);

  /** Two gateways (two pools) on one database, set up at the same time. */
  async function pair(): Promise<[ReportWindows, ReportWindows]> {
    const url = await pg.createDatabase();
    const [a, b] = await Promise.all([tracked(openPostgresStore(url)), tracked(openPostgresStore(url))]);
    return Promise.all([sqlReportWindows(a, clock), sqlReportWindows(b, clock)]);
  }

  it("two gateways on one database share windows and dedupe keys", async () => {
    const [a, b] = await pair();
    expect(await a.take([check("reporter", 1)])).toEqual({ ok: true });
    expect(await b.take([check("reporter", 1)])).toEqual({ ok: false, key: "reporter", retryAfterMs: MIN });
    expect(await b.seen("report-1", MIN)).toBe(false);
    expect(await a.seen("report-1", MIN)).toBe(true);
    await a.forget("report-1");
    expect(await b.seen("report-1", MIN)).toBe(false);
  });

  it("20 concurrent takes (limit 5) split across both gateways: exactly 5 succeed", async () => {
    const [a, b] = await pair();
    const takes = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).take([check("reporter", 5)])));
    expect(oks(takes)).toBe(5);
    for (const r of takes) if (!r.ok) expect(r).toEqual({ ok: false, key: "reporter", retryAfterMs: MIN });
    expect(await a.hit("reporter", MIN)).toBe(6);
  });

  it("20 concurrent seen of one new key across both gateways: exactly one is false", async () => {
    const [a, b] = await pair();
    const seen = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).seen("report-1", MIN)));
    expect(seen.filter((s) => !s)).toHaveLength(1);
  });

  it("concurrent takes naming two keys in either order neither deadlock nor overshoot; concurrent hits count 1…n", async () => {
    const [a, b] = await pair();
    const takes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).take(i % 4 < 2 ? [check("x", 5), check("y", 7)] : [check("y", 7), check("x", 5)])),
    );
    expect(oks(takes)).toBe(5);
    const hits = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).hit("h", MIN)));
    expect(hits.sort((p, q) => p - q)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});
