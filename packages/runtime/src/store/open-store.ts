import { join } from "node:path";
import { openPostgresStore } from "./postgres.js";
import { openSqliteStore } from "./sqlite.js";
import type { Store } from "@xmppkit/core";

export interface StoreOptions {
  /** SQLite file (default `<data_dir>/xmppkit.sqlite`). */
  sqlite?: string;
  /** PostgreSQL URL (`postgres://user:pass@host/db`); takes precedence over sqlite. */
  postgres?: string;
  /** Directory for the default SQLite file (default ./data). */
  dataDir?: string;
}

/**
 * Open the configured store: PostgreSQL by URL, else the embedded SQLite file. Each imports its driver when it
 * is opened: pg only for PostgreSQL, libsql only for SQLite, and neither before.
 */
/** The SQLite file `openStore(options)` opens when no PostgreSQL URL is given. */
export const sqliteFile = (options: Pick<StoreOptions, "sqlite" | "dataDir"> = {}): string =>
  options.sqlite ?? join(options.dataDir ?? "data", "xmppkit.sqlite");

export function openStore(options: StoreOptions = {}): Promise<Store> {
  if (options.postgres) return openPostgresStore(options.postgres);
  return openSqliteStore(sqliteFile(options));
}
