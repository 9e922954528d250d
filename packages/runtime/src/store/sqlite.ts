// Embedded SQLite through libsql's synchronous, better-sqlite3-compatible API.
//
// Why libsql and not better-sqlite3: on Node 20 only better-sqlite3 12.x works, and its
// install falls back to a ~1 minute node-gyp build on every fresh machine that cannot reach GitHub (every CI
// run here). libsql ships a prebuilt binary inside an npm package, installs in seconds and needs no compiler.
// It is slower (100k inserts: ~320 ms vs ~110 ms), which is far above what a gateway writes.
//
// Durability: WAL with synchronous=FULL, so a committed batch survives a crash of the process or the machine.
//
// `libsql` (its native binary: ~5 MiB resident, ~40 ms to load) is imported when a store is opened, so a
// gateway whose modules need no store, or a bot that never opens one, does not pay for it.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type Database from "libsql";
import { CORE_MIGRATIONS, MIGRATIONS_TABLE, applyMigration, checkMigrations, ident, keyValue, migrationSql } from "./sql.js";
import type { Migration, Queryable, Store } from "@xmppkit/core";

type Db = InstanceType<typeof Database>;
interface Stmt {
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number | bigint };
}

/** SQLite has no booleans or dates: store them as integers and ISO strings. */
function bind(params: unknown[] = []): unknown[] {
  return params.map((p) => (typeof p === "boolean" ? (p ? 1 : 0) : p instanceof Date ? p.toISOString() : p === undefined ? null : p));
}

export async function openSqliteStore(path: string): Promise<Store> {
  const { default: Libsql } = await import("libsql");
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db: Db = new Libsql(path);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = FULL");
  db.exec("PRAGMA busy_timeout = 5000");
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

  // One connection: transactions are serialised so that statements of another task never land inside one.
  let chain: Promise<unknown> = Promise.resolve();
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = chain.then(fn, fn);
    chain = run.catch(() => undefined);
    return run;
  }

  async function transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return exclusive(async () => {
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
  }

  const store: Store = {
    dialect: "sqlite",
    query: (sql, params) => exclusive(() => direct.query(sql, params)),
    run: (sql, params) => exclusive(() => direct.run(sql, params)),
    transaction,
    async migrate(owner: string, migrations: Migration[]) {
      const sorted = checkMigrations(owner, migrations);
      db.exec(MIGRATIONS_TABLE.sqlite);
      for (const m of sorted) {
        await transaction(async (tx) => {
          await applyMigration(tx, owner, m, () => db.exec(migrationSql(m, "sqlite")));
        });
      }
    },
    async insertMany(table, columns, rows) {
      if (!rows.length) return;
      const sql = `INSERT INTO ${ident(table)} (${columns.map(ident).join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`;
      await transaction(async () => {
        const stmt = prepare(sql);
        for (const row of rows) stmt.run(...bind(row));
      });
    },
    kv: (namespace) => keyValue(store, namespace),
    async close() {
      await chain;
      db.close();
    },
  };
  await store.migrate("core", CORE_MIGRATIONS);
  return store;
}
