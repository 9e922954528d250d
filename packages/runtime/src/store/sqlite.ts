// Embedded SQLite through libsql's synchronous, better-sqlite3-compatible API.
//
// Why libsql and not better-sqlite3: on Node 20 only better-sqlite3 12.x works, and its
// install falls back to a ~1 minute node-gyp build on every fresh machine that cannot reach GitHub (every CI
// run here). libsql ships a prebuilt binary inside an npm package, installs in seconds and needs no compiler.
// It is slower (100k inserts: ~320 ms vs ~110 ms), which is far above what a gateway writes.
//
// Durability: WAL with synchronous=FULL, so a committed batch survives a crash of the process or the machine.
// The file is watched while open (store-watch.ts): gone, replaced, or unwritable shows in `sqliteHealth()`.
//
// Read-only (a reading command): the file is opened through a `mode=ro` URI, so it is never created, and
// nothing is migrated; a missing file or missing tables are said as such (StoreNotFoundError,
// StoreNotMigratedError).
//
// `libsql` (its native binary: ~5 MiB resident, ~40 ms to load) is imported when a store is opened, so a
// gateway whose modules need no store, or a bot that never opens one, does not pay for it.
import { existsSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type Database from "libsql";
import { XmppkitError, type Migration, type Queryable, type Store } from "@xmppkit/core";
import { CORE_MIGRATIONS, MIGRATIONS_TABLE, applyMigration, checkMigrations, ident, keyValue, migrationSql } from "./sql.js";
import { watchStoreFile, type StoreWatch, type StoreWatchOptions } from "./store-watch.js";

export interface SqliteStoreOptions {
  /** Open read-only: the file is never created (StoreNotFoundError) nor migrated (StoreNotMigratedError). */
  readOnly?: boolean | undefined;
  /** The file's watch (default every 5 s; not for `:memory:` nor read-only); false: none. */
  watch?: StoreWatchOptions | false | undefined;
}

/** A store opened read-only names a file that is not there. */
export class StoreNotFoundError extends XmppkitError {
  static override readonly brand = "StoreNotFoundError";
  /**
   * @param file the absolute path
   * @param dataDir the data directory it was made from, when it was
   */
  constructor(
    readonly file: string,
    readonly dataDir?: string,
  ) {
    super(`no SQLite database at ${file}${dataDir ? ` (data_dir: ${dataDir})` : ""} (opened read-only: not created)`);
  }
}

/** A store opened read-only lacks the tables of `owner` (its migrations were never applied there). */
export class StoreNotMigratedError extends XmppkitError {
  static override readonly brand = "StoreNotMigratedError";
  constructor(
    readonly file: string,
    readonly owner: string,
    readonly missing: number[],
  ) {
    super(`${file} has no tables of ${owner} (migration ${missing.join(", ")} not applied; opened read-only, nothing is migrated)`);
  }
}

type Db = InstanceType<typeof Database>;
interface Stmt {
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number | bigint };
}

/** SQLite has no booleans or dates: store them as integers and ISO strings. */
function bind(params: unknown[] = []): unknown[] {
  return params.map((p) => (typeof p === "boolean" ? (p ? 1 : 0) : p instanceof Date ? p.toISOString() : p === undefined ? null : p));
}

/** SQLite's errors that say the file cannot be written (a full disk, a read-only file system, I/O). */
const DISK_ERROR = /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN)/;

async function openDb(path: string, readOnly: boolean): Promise<Db> {
  const { default: Libsql } = await import("libsql");
  if (readOnly) {
    if (path !== ":memory:" && !existsSync(path)) throw new StoreNotFoundError(resolve(path));
    const db: Db = new Libsql(path === ":memory:" ? path : `${pathToFileURL(resolve(path)).href}?mode=ro`);
    db.exec("PRAGMA busy_timeout = 5000");
    return db;
  }
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db: Db = new Libsql(path);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = FULL");
  db.exec("PRAGMA busy_timeout = 5000");
  return db;
}

/** Read-only: every migration of `owner` must be there already. */
async function requireMigrated(db: Queryable, file: string, owner: string, migrations: Migration[]): Promise<void> {
  const rows = await db.query<{ version: number }>("SELECT version FROM xmppkit_migrations WHERE owner = ?", [owner]).catch((err: unknown) => {
    if (/no such table/.test((err as Error).message)) return [];
    throw err;
  });
  const applied = new Set(rows.map((r) => Number(r.version)));
  const missing = migrations.filter((m) => !applied.has(m.version)).map((m) => m.version);
  if (missing.length) throw new StoreNotMigratedError(file, owner, missing);
}

/** One connection, its statements, and its writes: serialised, and their last disk error kept. */
function sqliteConnection(db: Db) {
  const statements = new Map<string, Stmt>();
  const prepare = (sql: string): Stmt => {
    let s = statements.get(sql);
    if (!s) {
      s = db.prepare(sql) as unknown as Stmt;
      if (statements.size > 500) statements.clear();
      statements.set(sql, s);
    }
    return s;
  };
  const direct: Queryable = {
    dialect: "sqlite",
    async query<T>(sql: string, params?: unknown[]) {
      return prepare(sql).all(...bind(params)) as T[];
    },
    async run(sql: string, params?: unknown[]) {
      const r = prepare(sql).run(...bind(params));
      return { changes: Number(r.changes) };
    },
  };

  // The last write's error, for the watch: set by a statement that fails for want of disk, cleared by a write that works.
  let writeError: string | undefined;
  function tracked<T>(work: Promise<T>, wrote: (result: T) => boolean): Promise<T> {
    return work.then(
      (result) => {
        if (wrote(result)) writeError = undefined;
        return result;
      },
      (err: unknown) => {
        if (DISK_ERROR.test((err as { code?: string }).code ?? "")) writeError = (err as Error).message;
        throw err;
      },
    );
  }

  // One connection: transactions are serialised so that statements of another task never land inside one.
  let chain: Promise<unknown> = Promise.resolve();
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = chain.then(fn, fn);
    chain = run.catch(() => undefined);
    return run;
  }

  function transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const work = exclusive(async () => {
      db.exec("BEGIN IMMEDIATE");
      try {
        const result = await fn(direct);
        db.exec("COMMIT");
        return result;
      } catch (err) {
        if (db.inTransaction) db.exec("ROLLBACK");
        throw err;
      }
    });
    return tracked(work, () => true);
  }

  return {
    db,
    prepare,
    transaction,
    query: <T>(sql: string, params?: unknown[]) =>
      tracked(
        exclusive(() => direct.query<T>(sql, params)),
        () => false,
      ),
    run: (sql: string, params?: unknown[]) =>
      tracked(
        exclusive(() => direct.run(sql, params)),
        (r) => r.changes > 0,
      ),
    writeError: () => writeError,
    async close() {
      await chain;
      db.close();
    },
  };
}

type Connection = ReturnType<typeof sqliteConnection>;

function sqliteStore(c: Connection, file: string, readOnly: boolean): Store {
  const store: Store = {
    dialect: "sqlite",
    query: c.query,
    run: c.run,
    transaction: c.transaction,
    async migrate(owner: string, migrations: Migration[]) {
      const sorted = checkMigrations(owner, migrations);
      if (readOnly) return requireMigrated(store, resolve(file), owner, sorted);
      c.db.exec(MIGRATIONS_TABLE.sqlite);
      for (const m of sorted) {
        await c.transaction(async (tx) => {
          await applyMigration(tx, owner, m, () => c.db.exec(migrationSql(m, "sqlite")));
        });
      }
    },
    async insertMany(table, columns, rows) {
      if (!rows.length) return;
      const sql = `INSERT INTO ${ident(table)} (${columns.map(ident).join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`;
      await c.transaction(async () => {
        const stmt = c.prepare(sql);
        for (const row of rows) stmt.run(...bind(row));
      });
    },
    kv: (namespace) => keyValue(store, namespace),
    close: c.close,
  };
  return store;
}

/** The watch of a store's file, which it tells about its failed writes and has probe with one. */
function watchConnection(c: Connection, file: string, options: StoreWatchOptions): StoreWatch {
  return watchStoreFile(
    {
      file,
      writeError: c.writeError,
      // A row written and deleted in one transaction: its page is written all the same.
      probe: () =>
        c.transaction(async (tx) => {
          await tx.run("INSERT INTO xmppkit_kv (namespace, key, value) VALUES ('xmppkit-store-probe', 'probe', '') ON CONFLICT (namespace, key) DO NOTHING");
          await tx.run("DELETE FROM xmppkit_kv WHERE namespace = 'xmppkit-store-probe'");
        }),
    },
    options,
  );
}

/** Open (creating it and its directory) the SQLite file at `path`, watched while open; or read it only (`readOnly`). */
export async function openSqliteStore(path: string, options: SqliteStoreOptions = {}): Promise<Store> {
  const readOnly = options.readOnly === true;
  const c = sqliteConnection(await openDb(path, readOnly));
  const store = sqliteStore(c, path, readOnly);
  try {
    await store.migrate("core", CORE_MIGRATIONS);
  } catch (err) {
    await c.close();
    throw err;
  }
  if (readOnly || path === ":memory:" || options.watch === false) return store;
  const watch = watchConnection(c, path, options.watch ?? {});
  store.close = async () => {
    watch.stop();
    await c.close();
  };
  return store;
}
