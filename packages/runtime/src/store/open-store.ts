import { join } from "node:path";
import type { Store } from "@xmppkit/core";
import { openPostgresStore } from "./postgres.js";
import { StoreNotFoundError, openSqliteStore } from "./sqlite.js";
import { sqliteHealth, type StoreHealth, type StoreWatchOptions } from "./store-watch.js";

export interface StoreOptions {
  /** SQLite file (default `<data_dir>/xmppkit.sqlite`). */
  sqlite?: string;
  /** PostgreSQL URL (`postgres://user:pass@host/db`); takes precedence over sqlite. */
  postgres?: string;
  /** Directory for the default SQLite file (default ./data). */
  dataDir?: string;
  /** SQLite: the file's watch (how often, and whom to tell when it is gone, replaced or unwritable). */
  watch?: StoreWatchOptions;
  /**
   * A reading command's open: a SQLite file is never created (StoreNotFoundError when it is not there) nor
   * migrated (StoreNotMigratedError when tables are missing). PostgreSQL opens as usual.
   */
  readOnly?: boolean;
}

/** The SQLite file `openStore(options)` opens when no PostgreSQL URL is given. */
export const sqliteFile = (options: Pick<StoreOptions, "sqlite" | "dataDir"> = {}): string =>
  options.sqlite ?? join(options.dataDir ?? "data", "xmppkit.sqlite");

/**
 * Open the configured store: PostgreSQL by URL, else the embedded SQLite file. Each imports its driver when it
 * is opened: pg only for PostgreSQL, libsql only for SQLite, and neither before.
 */
export function openStore(options: StoreOptions = {}): Promise<Store> {
  if (options.postgres) return openPostgresStore(options.postgres);
  return openSqliteStore(sqliteFile(options), { readOnly: options.readOnly === true, watch: options.watch }).catch((err: unknown) => {
    // Which data_dir the file came from, for a message that helps find the right config.
    if (StoreNotFoundError.isInstance(err) && !options.sqlite) throw new StoreNotFoundError(err.file, options.dataDir ?? "data");
    throw err;
  });
}

/**
 * The state of the store `openStore(options)` opened in this process: for SQLite, whether its file is still
 * there, the same, and writable (store-watch.ts); undefined for PostgreSQL, or when none is open.
 */
export function storeHealth(options: StoreOptions): StoreHealth | undefined {
  return options.postgres ? undefined : sqliteHealth(sqliteFile(options));
}
