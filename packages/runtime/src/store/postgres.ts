// PostgreSQL through node-postgres (pure JS). Several gateways can share one database: migrations take an
// advisory lock per owner. `pg` is imported when a PostgreSQL store is opened, never before: loading it costs
// ~30 ms and ~3 MiB (and it pulls in Node's fetch implementation), which a gateway on SQLite never needs.
import { pgNotifications, type PgNotifications } from "./pg-notifications.js";
import type pg from "pg";
import { CORE_MIGRATIONS, MIGRATIONS_TABLE, applyMigration, checkMigrations, ident, keyValue, migrationSql } from "./sql.js";
import type { Migration, Queryable, Store } from "@xmppkit/core";

/** `?` → `$1, $2 …`, leaving quoted strings and identifiers alone. */
export function toPgPlaceholders(sql: string): string {
  let out = "";
  let n = 0;
  let quote: string | null = null;
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = null;
      out += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      out += ch;
    } else if (ch === "?") out += `$${++n}`;
    else out += ch;
  }
  return out;
}

type Client = Pick<pg.PoolClient, "query">;

function queryable(client: Client): Queryable {
  return {
    dialect: "postgres",
    async query<T>(sql: string, params: unknown[] = []) {
      const r = await client.query(toPgPlaceholders(sql), params);
      return r.rows as T[];
    },
    async run(sql: string, params: unknown[] = []) {
      const r = await client.query(toPgPlaceholders(sql), params);
      return { changes: r.rowCount ?? 0 };
    },
  };
}

export async function openPostgresStore(url: string, options: { max?: number } = {}): Promise<Store> {
  const { Pool } = (await import("pg")).default;
  const pool = new Pool({ connectionString: url, max: options.max ?? 5 });
  pool.on("error", () => {
    // An idle client lost its connection; the pool replaces it on the next query.
  });
  // Fail early, with the server's reason, if the URL is wrong (and leave no pool behind).
  try {
    const probe = await pool.connect();
    probe.release();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  const direct = queryable(pool);

  async function transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      const result = await fn(queryable(client));
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  let notifications: PgNotifications | undefined;
  const store: Store = {
    dialect: "postgres",
    query: direct.query,
    run: direct.run,
    transaction,
    async migrate(owner: string, migrations: Migration[]) {
      const sorted = checkMigrations(owner, migrations);
      await transaction(async (tx) => {
        await tx.run("SELECT pg_advisory_xact_lock(hashtext('xmppkit_migrations'))");
        await tx.run(MIGRATIONS_TABLE.postgres);
      });
      for (const m of sorted) {
        await transaction(async (tx) => {
          await tx.query("SELECT pg_advisory_xact_lock(hashtext(?))", [`xmppkit:${owner}`]);
          await applyMigration(tx, owner, m, () => tx.run(migrationSql(m, "postgres")));
        });
      }
    },
    async insertMany(table, columns, rows) {
      if (!rows.length) return;
      const cols = columns.map(ident).join(", ");
      // PostgreSQL allows 65535 parameters per statement.
      const perChunk = Math.max(1, Math.floor(60_000 / columns.length));
      await transaction(async (tx) => {
        for (let i = 0; i < rows.length; i += perChunk) {
          const chunk = rows.slice(i, i + perChunk);
          const values = chunk.map(() => `(${columns.map(() => "?").join(", ")})`).join(", ");
          await tx.run(`INSERT INTO ${ident(table)} (${cols}) VALUES ${values}`, chunk.flat());
        }
      });
    },
    kv: (namespace) => keyValue(store, namespace),
    async notify(channel, payload = "") {
      await pool.query("SELECT pg_notify($1, $2)", [channel, payload]);
    },
    listen(channel, fn) {
      notifications ??= pgNotifications(url);
      return notifications.listen(channel, fn);
    },
    async close() {
      await notifications?.close();
      await pool.end();
    },
  };
  await store.migrate("core", CORE_MIGRATIONS);
  return store;
}
