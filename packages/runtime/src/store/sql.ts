// What the SQLite and PostgreSQL stores share: core's own migrations, the migrations table, and the
// key/value view over any Queryable.
import type { Dialect, KeyValue, Migration, Queryable } from "@xmppkit/core";

export const CORE_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "key/value table",
    sql: {
      sqlite:
        "CREATE TABLE IF NOT EXISTS xmppkit_kv (namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, expires_at INTEGER, PRIMARY KEY (namespace, key))",
      postgres:
        "CREATE TABLE IF NOT EXISTS xmppkit_kv (namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, expires_at BIGINT, PRIMARY KEY (namespace, key))",
    },
  },
];

export const MIGRATIONS_TABLE = {
  sqlite:
    "CREATE TABLE IF NOT EXISTS xmppkit_migrations (owner TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (owner, version))",
  postgres:
    "CREATE TABLE IF NOT EXISTS xmppkit_migrations (owner TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (owner, version))",
};

export function migrationSql(m: Migration, dialect: Dialect): string {
  return typeof m.sql === "string" ? m.sql : m.sql[dialect];
}

export function checkMigrations(owner: string, migrations: Migration[]) {
  const seen = new Set<number>();
  for (const m of migrations) {
    if (!Number.isInteger(m.version) || m.version < 1) throw new Error(`${owner}: migration version must be a positive integer (${m.version})`);
    if (seen.has(m.version)) throw new Error(`${owner}: migration version ${m.version} appears twice`);
    seen.add(m.version);
  }
  return [...migrations].sort((a, b) => a.version - b.version);
}

/** Identifiers come from code, never from users; still, refuse anything that is not a plain name. */
export function ident(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not a plain SQL identifier: ${name}`);
  return name;
}

/** Key/value over any Queryable-with-transaction. */
export function keyValue<T>(store: Queryable, namespace: string): KeyValue<T> {
  const now = () => Date.now();
  return {
    async get(key) {
      const rows = await store.query<{ value: string; expires_at: number | string | null }>(
        "SELECT value, expires_at FROM xmppkit_kv WHERE namespace = ? AND key = ?",
        [namespace, key],
      );
      const row = rows[0];
      if (!row) return undefined;
      if (row.expires_at !== null && Number(row.expires_at) <= now()) return undefined;
      return JSON.parse(row.value) as T;
    },
    async set(key, value, options = {}) {
      const expires = options.ttlMs !== undefined ? now() + options.ttlMs : null;
      await store.run(
        "INSERT INTO xmppkit_kv (namespace, key, value, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
        [namespace, key, JSON.stringify(value), expires],
      );
    },
    async delete(key) {
      const r = await store.run("DELETE FROM xmppkit_kv WHERE namespace = ? AND key = ?", [namespace, key]);
      return r.changes > 0;
    },
    async entries(prefix = "") {
      const rows = await store.query<{ key: string; value: string; expires_at: number | string | null }>(
        "SELECT key, value, expires_at FROM xmppkit_kv WHERE namespace = ? AND substr(key, 1, ?) = ? ORDER BY key",
        [namespace, prefix.length, prefix],
      );
      const t = now();
      return rows.filter((r) => r.expires_at === null || Number(r.expires_at) > t).map((r) => [r.key, JSON.parse(r.value) as T]);
    },
    async purgeExpired() {
      const r = await store.run("DELETE FROM xmppkit_kv WHERE expires_at IS NOT NULL AND expires_at <= ?", [now()]);
      return r.changes;
    },
  };
}

/**
 * Apply `m` for `owner` inside `tx` unless it was applied already, and record it. `apply` runs the
 * migration's SQL (each driver has its own way to run several statements).
 */
export async function applyMigration(tx: Queryable, owner: string, m: Migration, apply: () => Promise<unknown> | unknown): Promise<void> {
  const done = await tx.query("SELECT 1 FROM xmppkit_migrations WHERE owner = ? AND version = ?", [owner, m.version]);
  if (done.length) return;
  await apply();
  await tx.run("INSERT INTO xmppkit_migrations (owner, version, name, applied_at) VALUES (?, ?, ?, ?)", [owner, m.version, m.name, new Date().toISOString()]);
}
