// Applied rosters kept in a store (the gateway's SQLite or PostgreSQL), in their own table, written behind:
// a sync records what it applied in memory and goes on; the records are committed in one transaction per
// burst (at most 1 s after the first, or per 500 records) instead of one commit per user. Measured on SQLite
// (WAL, synchronous FULL; libsql is synchronous) under refreshes of 100 users on a 2-core VM: a commit held
// the event loop 1–4 ms, one per user when written one by one. A record
// lost to a crash before its commit costs nothing but a shortcut: the next sync finds the server's roster
// at another version than the stored record says, and replaces the roster whole.
import { createHash } from "node:crypto";
import { createBatchWriter, silentLogger, type Logger, type Migration, type Store } from "@xmppkit/core";
import type { AppliedRoster, AppliedRosters } from "./applied-rosters.js";

export const APPLIED_TABLE = "xmppkit_roster_applied";

export const APPLIED_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "applied rosters",
    sql: `CREATE TABLE IF NOT EXISTS ${APPLIED_TABLE} (jid TEXT PRIMARY KEY, ver TEXT NOT NULL, items TEXT NOT NULL)`,
  },
  { version: 2, name: "the web answer's digest", sql: `ALTER TABLE ${APPLIED_TABLE} ADD COLUMN body TEXT` },
];

export interface StoredAppliedRosters extends AppliedRosters {
  /** Commit what is waiting, and stop. */
  close(): Promise<void>;
}

/** null: a delete waiting. */
type Pending = AppliedRoster | null;

// The web answer's digest is stored with a hash of the items it gave: a gateway from before the digest
// (one node of a pair, during an upgrade) updates `items` and leaves `body` as it was, and a digest must never
// be read beside items that did not come from it.
const itemsHash = (items: string) => createHash("sha256").update(items).digest("base64url").slice(0, 22);
const storedBody = ({ body, items }: AppliedRoster) => (body ? `${body}.${itemsHash(items)}` : null);
function bodyOf(stored: string | null, items: string): string | undefined {
  const dot = stored?.lastIndexOf(".") ?? -1;
  return stored && dot > 0 && stored.slice(dot + 1) === itemsHash(items) ? stored.slice(0, dot) : undefined;
}

/** Applied rosters in `store` (migrated here, owner "http-roster-admin"). */
export async function storeAppliedRosters(
  store: Store,
  { logger = silentLogger(), maxDelayMs = 1000 }: { logger?: Logger; maxDelayMs?: number } = {},
): Promise<StoredAppliedRosters> {
  await store.migrate("http-roster-admin", APPLIED_MIGRATIONS);
  const pending = new Map<string, Pending>();
  let failing = false;
  const writer = createBatchWriter<[string, Pending]>({
    async write(rows) {
      const last = new Map(rows); // the newest record of each user in the batch
      await store.transaction(async (tx) => {
        for (const [jid, applied] of last) {
          if (applied) {
            await tx.run(
              `INSERT INTO ${APPLIED_TABLE} (jid, ver, items, body) VALUES (?, ?, ?, ?) ON CONFLICT (jid) DO UPDATE SET ver = excluded.ver, items = excluded.items, body = excluded.body`,
              [jid, applied.ver, applied.items, storedBody(applied)],
            );
          } else await tx.run(`DELETE FROM ${APPLIED_TABLE} WHERE jid = ?`, [jid]);
        }
      });
      for (const [jid, applied] of last) if (pending.get(jid) === applied) pending.delete(jid);
      if (failing) logger.info("applied rosters are written again");
      failing = false;
    },
    maxRows: 500,
    maxDelayMs,
    onError(err, rows) {
      if (!failing) logger.warn({ err, rows }, "writing applied rosters failed; retrying (until then refreshes replace rosters whole)");
      failing = true;
    },
  });

  function record(jid: string, applied: Pending): Promise<void> {
    pending.set(jid, applied);
    // Not awaited: a failed write is retried by the writer, and a record given up only costs a shortcut.
    writer.push([jid, applied]).catch(() => {
      if (pending.get(jid) === applied) pending.delete(jid);
    });
    return Promise.resolve();
  }

  return {
    async get(jid) {
      if (pending.has(jid)) return pending.get(jid) ?? undefined;
      const rows = await store.query<{ ver: string; items: string; body: string | null }>(`SELECT ver, items, body FROM ${APPLIED_TABLE} WHERE jid = ?`, [jid]);
      const row = rows[0];
      if (!row) return undefined;
      const body = bodyOf(row.body, row.items);
      return { ver: row.ver, items: row.items, ...(body ? { body } : {}) };
    },
    set: (jid, applied) => record(jid, applied),
    async delete(jid) {
      await record(jid, null);
      return true;
    },
    // What cannot be written at the close is given up: the next syncs replace those rosters whole.
    close: () => writer.close().catch(() => undefined),
  };
}
