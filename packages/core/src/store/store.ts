// The storage contract: SQL with `?` placeholders on SQLite or PostgreSQL, per-owner migrations, a
// transaction per write batch, and a small key/value table for caches and sync markers. Implementations
// live elsewhere (@xmppkit/runtime: libsql and pg).

export type Dialect = "sqlite" | "postgres";

export interface Queryable {
  readonly dialect: Dialect;
  /** Rows of a SELECT. Placeholders are `?` on both dialects. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Run a statement; `changes` is the number of rows it touched. */
  run(sql: string, params?: unknown[]): Promise<{ changes: number }>;
}

export interface Migration {
  /** 1, 2, 3 … applied in order, each once per owner. */
  version: number;
  name: string;
  /** One script for both dialects, or one per dialect. May hold several statements. */
  sql: string | { sqlite: string; postgres: string };
}

export interface Store extends Queryable {
  /** Apply `owner`'s pending migrations, each in its own transaction. Safe with several processes. */
  migrate(owner: string, migrations: Migration[]): Promise<void>;
  /** Run `fn` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Insert many rows in one transaction (one prepared statement, chunked for PostgreSQL). */
  insertMany(table: string, columns: string[], rows: unknown[][]): Promise<void>;
  /** A key/value view over the shared `xmppkit_kv` table. */
  kv<T = unknown>(namespace: string): KeyValue<T>;
  /**
   * Tell the other processes on this store that something changed on `channel` (PostgreSQL's NOTIFY).
   * Absent where one process owns the store (SQLite).
   */
  notify?(channel: string, payload?: string): Promise<void>;
  /**
   * Be told of `notify` on `channel` by any process (PostgreSQL's LISTEN, on a connection of its own). After
   * that connection was lost and made again, `fn` gets no payload: what was said meanwhile is not known, so
   * read again. Resolves with a function that stops listening.
   */
  listen?(channel: string, fn: (payload: string | undefined) => void): Promise<() => void>;
  close(): Promise<void>;
}

export interface KeyValue<T> {
  get(key: string): Promise<T | undefined>;
  /** Store `value` (JSON); with `ttlMs` it expires. */
  set(key: string, value: T, options?: { ttlMs?: number }): Promise<void>;
  delete(key: string): Promise<boolean>;
  /** Entries whose key starts with `prefix`. */
  entries(prefix?: string): Promise<[string, T][]>;
  /** Remove expired entries of every namespace; returns how many. */
  purgeExpired(): Promise<number>;
}
