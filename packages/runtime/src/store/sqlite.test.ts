import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Store } from "@xmppkit/core";
import { openStore, storeHealth } from "./open-store.js";
import { StoreNotFoundError, StoreNotMigratedError, openSqliteStore } from "./sqlite.js";
import { storeContract } from "./store-contract.js";
import { sqliteHealth, type StoreHealth } from "./store-watch.js";

describe("SQLite store (libsql, file in a temp dir)", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "xmppkit-sqlite-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  storeContract(() => openSqliteStore(join(dir, "nested", "x.sqlite")));
});

/**
 * Make `path` unwritable for this process: its mode bits for a user, the immutable attribute for root (whom
 * mode bits do not stop). Returns the undoing, or undefined when neither is possible here.
 */
function makeUnwritable(path: string): (() => void) | undefined {
  if (process.getuid?.() !== 0) {
    chmodSync(path, 0o555);
    return () => chmodSync(path, 0o755);
  }
  try {
    execFileSync("chattr", ["+i", path], { stdio: "ignore" });
    return () => execFileSync("chattr", ["-i", path], { stdio: "ignore" });
  } catch {
    return undefined;
  }
}

describe("the SQLite store's watch: is its file still there, the same, and writable?", () => {
  let dir: string;
  let store: Store | undefined;
  let file: string;
  let changes: StoreHealth[];
  const open = async () => {
    store = await openSqliteStore(file, { watch: { intervalMs: 0, onChange: (h) => void changes.push(h) } });
    await store.run("CREATE TABLE t (x TEXT)");
    return store;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "xmppkit-watch-"));
    file = join(dir, "data", "xmppkit.sqlite");
    changes = [];
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it("ok while all is well; a data directory removed (rm -rf) is gone, naming the file", async () => {
    await open();
    expect(sqliteHealth(file)).toEqual({ state: "ok" });
    rmSync(join(dir, "data"), { recursive: true });
    await store!.run("INSERT INTO t VALUES ('still written, into a file nobody can open')");
    await new Promise((r) => setTimeout(r, 1000)); // asked at most once a second
    const gone = {
      state: "gone",
      reason: `${file} is gone (deleted, or its directory removed): writes go to a file nobody can open, and a restart would start an empty store`,
    };
    expect(sqliteHealth(file)).toEqual(gone);
    expect(changes).toEqual([gone]);
  });

  it("another file at its path (restored, moved over it) is replaced", async () => {
    await open();
    writeFileSync(join(dir, "other.sqlite"), "");
    renameSync(join(dir, "other.sqlite"), file);
    expect(storeHealth({ sqlite: file })).toMatchObject({ state: "replaced", reason: expect.stringContaining(`${file} was replaced by another file`) });
  });

  it("a data directory that is not writable any more is unwritable, naming the directory; writable again is ok", async () => {
    await open();
    const undo = makeUnwritable(join(dir, "data"));
    if (!undo) throw new Error("cannot make a directory unwritable here: as root this needs chattr (e2fsprogs) on a file system with attributes");
    try {
      expect(sqliteHealth(file)).toEqual({
        state: "unwritable",
        reason: `${join(dir, "data")}, the directory of ${file}, is not writable (${process.getuid?.() === 0 ? "EPERM" : "EACCES"})`,
      });
    } finally {
      undo();
    }
    await new Promise((r) => setTimeout(r, 1000)); // asked at most once a second
    expect(sqliteHealth(file)).toEqual({ state: "ok" });
    expect(changes.map((c) => c.state)).toEqual(["unwritable", "ok"]);
  });

  it("writes that fail (a full disk) make it unwritable with SQLite's error, until a probe write works again", async () => {
    const s = await open();
    await s.run("PRAGMA max_page_count = 1"); // no room to grow: SQLite's own "disk full"
    await expect(s.run("INSERT INTO t VALUES (?)", ["x".repeat(100_000)])).rejects.toThrow("database or disk is full");
    const watch = () => sqliteHealth(file);
    expect(watch()).toEqual({ state: "unwritable", reason: `writes to ${file} fail: database or disk is full` });
    await s.run("PRAGMA query_only = 1"); // every write fails now, the watch's probe too
    await expect(s.run("INSERT INTO t VALUES ('x')")).rejects.toThrow("readonly");
    await new Promise((r) => setTimeout(r, 1100));
    expect(watch()).toMatchObject({ state: "unwritable", reason: expect.stringContaining("attempt to write a readonly database") });
    await s.run("PRAGMA query_only = 0");
    await new Promise((r) => setTimeout(r, 1100));
    watch(); // checks, and probes: a write works again
    await expect.poll(() => sqliteHealth(file)).toEqual({ state: "ok" });
    expect(changes.at(-1)).toEqual({ state: "ok" });
  });

  it("closing the store ends its watch", async () => {
    await (await open()).close();
    store = undefined;
    expect(sqliteHealth(file)).toBeUndefined();
  });
});

describe("a read-only SQLite store (a reading command)", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "xmppkit-ro-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("a file that is not there is not created: StoreNotFoundError names it and the data_dir", async () => {
    const dataDir = join(dir, "wrong");
    const err = await openStore({ dataDir, readOnly: true }).catch((e: unknown) => e);
    expect(StoreNotFoundError.isInstance(err)).toBe(true);
    expect(err).toMatchObject({ file: join(dataDir, "xmppkit.sqlite"), dataDir });
    expect(existsSync(dataDir)).toBe(false);
    await expect(openSqliteStore(join(dir, "x.sqlite"), { readOnly: true })).rejects.toThrow(
      `no SQLite database at ${join(dir, "x.sqlite")} (opened read-only: not created)`,
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it("reads what a writer wrote, writes nothing, and says which tables are missing instead of migrating", async () => {
    const file = join(dir, "x.sqlite");
    const writer = await openSqliteStore(file);
    await writer.migrate("mine", [{ version: 1, name: "t", sql: "CREATE TABLE t (x TEXT)" }]);
    await writer.run("INSERT INTO t VALUES ('hello')");
    const reader = await openStore({ sqlite: file, readOnly: true });
    try {
      await reader.migrate("mine", [{ version: 1, name: "t", sql: "CREATE TABLE t (x TEXT)" }]); // applied: nothing to do
      expect(await reader.query("SELECT x FROM t")).toEqual([{ x: "hello" }]);
      await expect(reader.run("INSERT INTO t VALUES ('no')")).rejects.toThrow("readonly");
      const err = await reader.migrate("theirs", [{ version: 1, name: "u", sql: "CREATE TABLE u (x TEXT)" }]).catch((e: unknown) => e);
      expect(StoreNotMigratedError.isInstance(err)).toBe(true);
      expect(err).toMatchObject({ file, owner: "theirs", missing: [1] });
    } finally {
      await reader.close();
      await writer.close();
    }
  });

  it("an empty file (no gateway ever wrote it) has no tables", async () => {
    mkdirSync(join(dir, "data"));
    writeFileSync(join(dir, "data", "xmppkit.sqlite"), "");
    await expect(openStore({ dataDir: join(dir, "data"), readOnly: true })).rejects.toThrow(/has no tables of core/);
  });
});
