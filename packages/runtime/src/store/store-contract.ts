// The behaviour every Store must have; run against SQLite and PostgreSQL.
import { afterEach, expect, it } from "vitest";
import type { Migration, Store } from "@xmppkit/core";

const EVENTS: Migration[] = [
  { version: 1, name: "events", sql: "CREATE TABLE t_events (id INTEGER PRIMARY KEY, type TEXT NOT NULL, note TEXT)" },
  { version: 2, name: "index", sql: "CREATE INDEX t_events_type ON t_events (type)" },
];

export function storeContract(open: () => Promise<Store>) {
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  it("applies migrations once, in order, and records them", async () => {
    store = await open();
    await store.run("DROP TABLE IF EXISTS t_events");
    await store.run("DELETE FROM xmppkit_migrations WHERE owner = ?", ["contract"]);
    await store.migrate("contract", [EVENTS[1]!, EVENTS[0]!]);
    await store.migrate("contract", EVENTS);
    const rows = await store.query<{ version: number }>("SELECT version FROM xmppkit_migrations WHERE owner = ? ORDER BY version", ["contract"]);
    expect(rows.map((r) => Number(r.version))).toEqual([1, 2]);
  });

  it("refuses duplicate migration versions", async () => {
    store = await open();
    await expect(store.migrate("dup", [EVENTS[0]!, { ...EVENTS[0]!, name: "again" }])).rejects.toThrow(/appears twice/);
  });

  it("insertMany writes every row in one transaction; query uses ? placeholders", async () => {
    store = await open();
    await store.run("DROP TABLE IF EXISTS t_rows");
    await store.run("CREATE TABLE t_rows (id INTEGER, label TEXT, note TEXT)");
    const rows = Array.from({ length: 1200 }, (_, i) => [i, `row-${i}`, i % 2 ? "it's odd" : null]);
    await store.insertMany("t_rows", ["id", "label", "note"], rows);
    const [count] = await store.query<{ n: number | string }>("SELECT COUNT(*) AS n FROM t_rows");
    expect(Number(count!.n)).toBe(1200);
    const odd = await store.query<{ label: string }>("SELECT label FROM t_rows WHERE id = ? AND note = ?", [7, "it's odd"]);
    expect(odd).toEqual([{ label: "row-7" }]);
  });

  it("a transaction that throws leaves nothing behind", async () => {
    store = await open();
    await store.run("DROP TABLE IF EXISTS t_tx");
    await store.run("CREATE TABLE t_tx (id INTEGER)");
    await expect(
      store.transaction(async (tx) => {
        await tx.run("INSERT INTO t_tx (id) VALUES (?)", [1]);
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    expect(await store.query("SELECT * FROM t_tx")).toEqual([]);
  });

  it("insertMany with a bad row writes none of the batch", async () => {
    store = await open();
    await store.run("DROP TABLE IF EXISTS t_strict");
    await store.run("CREATE TABLE t_strict (id INTEGER NOT NULL)");
    await expect(store.insertMany("t_strict", ["id"], [[1], [null], [3]])).rejects.toThrow();
    expect(await store.query("SELECT * FROM t_strict")).toEqual([]);
  });

  it("refuses SQL identifiers that are not plain names", async () => {
    store = await open();
    await expect(store.insertMany("t; DROP TABLE x", ["id"], [[1]])).rejects.toThrow(/plain SQL identifier/);
  });

  it("key/value: set, get, overwrite, prefix listing, delete, expiry", async () => {
    store = await open();
    const kv = store.kv<{ n: number }>("contract-kv");
    for (const [k] of await kv.entries()) await kv.delete(k);
    await kv.set("user:alice", { n: 1 });
    await kv.set("user:alice", { n: 2 });
    await kv.set("user:bob", { n: 3 });
    await kv.set("other", { n: 4 });
    await kv.set("gone", { n: 5 }, { ttlMs: -1 });
    expect(await kv.get("user:alice")).toEqual({ n: 2 });
    expect(await kv.get("gone")).toBeUndefined();
    expect(await kv.entries("user:")).toEqual([
      ["user:alice", { n: 2 }],
      ["user:bob", { n: 3 }],
    ]);
    expect(await kv.delete("user:bob")).toBe(true);
    expect(await kv.delete("user:bob")).toBe(false);
    expect(await kv.purgeExpired()).toBeGreaterThanOrEqual(1);
    expect(await store.kv("another-namespace").get("user:alice")).toBeUndefined();
  });
}
