// Applied rosters in a store: on SQLite (a file, opened again as after a restart) and on a real PostgreSQL
// (two stores on one database, as an active/standby pair).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Store } from "@xmppkit/core";
import { openPostgresStore, openSqliteStore } from "@xmppkit/runtime";
import { captureLogger, startPostgres, type Postgres } from "@xmppkit/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { APPLIED_TABLE, storeAppliedRosters } from "./store-applied-rosters.js";

const stores: Store[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
async function tracked(open: Promise<Store>): Promise<Store> {
  const s = await open;
  stores.push(s);
  return s;
}
const rows = async (store: Store) => (await store.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${APPLIED_TABLE}`))[0]!.n;

describe("applied rosters in SQLite", () => {
  const file = () => {
    const dir = mkdtempSync(join(tmpdir(), "applied-rosters-"));
    dirs.push(dir);
    return join(dir, "gateway.sqlite");
  };

  it("a record is read back at once, committed behind, and found again after a restart", async () => {
    const path = file();
    const store = await tracked(openSqliteStore(path));
    const applied = await storeAppliedRosters(store, { maxDelayMs: 10_000 });
    await applied.set("alice@localhost", { ver: "a:1", items: "[]" });
    expect(await applied.get("alice@localhost")).toEqual({ ver: "a:1", items: "[]" });
    expect(Number(await rows(store))).toBe(0); // not yet written: the sync did not wait for the disk
    await applied.set("alice@localhost", { ver: "a:2", items: '[["c@example.com","",[],"both"]]', body: "sha-of-the-answer" });
    await applied.set("bob@localhost", { ver: "b:1", items: "[]" });
    await applied.delete("bob@localhost");
    await applied.close();
    await store.close();
    stores.length = 0;

    const again = await storeAppliedRosters(await tracked(openSqliteStore(path)));
    expect(await again.get("alice@localhost")).toEqual({ ver: "a:2", items: '[["c@example.com","",[],"both"]]', body: "sha-of-the-answer" });
    expect(await again.get("bob@localhost")).toBeUndefined();
    await again.close();
  });

  it("a table from before the web answer's digest is migrated: its records stay, without a digest", async () => {
    const store = await tracked(openSqliteStore(file()));
    await store.migrate("http-roster-admin", [
      {
        version: 1,
        name: "applied rosters",
        sql: `CREATE TABLE IF NOT EXISTS ${APPLIED_TABLE} (jid TEXT PRIMARY KEY, ver TEXT NOT NULL, items TEXT NOT NULL)`,
      },
    ]);
    await store.run(`INSERT INTO ${APPLIED_TABLE} (jid, ver, items) VALUES (?, ?, ?)`, ["alice@localhost", "a:7", "[]"]);
    const applied = await storeAppliedRosters(store);
    expect(await applied.get("alice@localhost")).toEqual({ ver: "a:7", items: "[]" });
    await applied.close();
  });

  it("a digest is read only beside the items it came with (a gateway from before it updates items alone)", async () => {
    const store = await tracked(openSqliteStore(file()));
    const applied = await storeAppliedRosters(store, { maxDelayMs: 0 });
    await applied.set("alice@localhost", { ver: "a:1", items: "[]", body: "digest-of-an-empty-answer" });
    await applied.close();
    const again = await storeAppliedRosters(store);
    expect(await again.get("alice@localhost")).toEqual({ ver: "a:1", items: "[]", body: "digest-of-an-empty-answer" });
    // What the older gateway's upsert does: ver and items, the body column left as it was.
    await store.run(`UPDATE ${APPLIED_TABLE} SET ver = ?, items = ? WHERE jid = ?`, ["a:2", '[["c@example.com","",[],"both"]]', "alice@localhost"]);
    expect(await again.get("alice@localhost")).toEqual({ ver: "a:2", items: '[["c@example.com","",[],"both"]]' });
    await again.close();
  });

  it("1,200 records in a burst are committed in three transactions", async () => {
    const store = await tracked(openSqliteStore(file()));
    let transactions = 0;
    const counting: Store = {
      ...store,
      migrate: store.migrate.bind(store),
      query: store.query.bind(store),
      transaction: (fn) => {
        transactions++;
        return store.transaction(fn);
      },
    };
    const applied = await storeAppliedRosters(counting);
    for (let i = 0; i < 1200; i++) await applied.set(`u${i}@localhost`, { ver: `v:${i}`, items: "[]" });
    await applied.close();
    expect(Number(await rows(store))).toBe(1200);
    expect(transactions).toBe(3);
  });

  it("a store that fails: records still read from memory, one warning, written once it works again", async () => {
    const store = await tracked(openSqliteStore(file()));
    let broken = true;
    const flaky: Store = {
      ...store,
      migrate: store.migrate.bind(store),
      query: store.query.bind(store),
      transaction: (fn) => (broken ? Promise.reject(new Error("SQLITE_IOERR: disk I/O error")) : store.transaction(fn)),
    };
    const log = captureLogger();
    const applied = await storeAppliedRosters(flaky, { logger: log.logger, maxDelayMs: 5 });
    await applied.set("alice@localhost", { ver: "a:1", items: "[]" });
    await new Promise((r) => setTimeout(r, 50));
    await applied.set("bob@localhost", { ver: "b:1", items: "[]" });
    expect(await applied.get("alice@localhost")).toEqual({ ver: "a:1", items: "[]" });
    expect(log.lines().filter((l) => String(l.msg).startsWith("writing applied rosters failed"))).toHaveLength(1);
    broken = false;
    await applied.close();
    expect(Number(await rows(store))).toBe(2);
    expect(log.lines().some((l) => l.msg === "applied rosters are written again")).toBe(true);
  });
});

describe("applied rosters in PostgreSQL", () => {
  let pg: Postgres;
  beforeAll(async () => {
    pg = await startPostgres();
  }, 120_000);
  afterAll(() => pg?.stop());

  it("what one node applied, the other reads (one database, two stores)", async () => {
    const url = await pg.createDatabase();
    const [a, b] = await Promise.all([tracked(openPostgresStore(url)), tracked(openPostgresStore(url))]);
    const holder = await storeAppliedRosters(a);
    const standby = await storeAppliedRosters(b);
    await holder.set("alice@localhost", { ver: "a:7", items: "[]" });
    await holder.close();
    expect(await standby.get("alice@localhost")).toEqual({ ver: "a:7", items: "[]" });
    await standby.close();
  });
});
