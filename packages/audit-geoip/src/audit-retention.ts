// How long audit events are kept: by age (`audit_log_expires_after`) and by row count, oldest first.
import type { Store } from "@xmppkit/core";
import { AUDIT_TABLE } from "./audit-schema.js";

export interface Retention {
  /** Events older than this are purged (null: never). */
  expiresAfterMs: number | null;
  /** At most this many events are kept (null: no limit). */
  maxRows: number | null;
}

/** Delete expired events, then the oldest beyond the row limit. */
export async function purgeAudit(store: Store, { expiresAfterMs, maxRows }: Retention, now: Date): Promise<{ expired: number; overQuota: number }> {
  let expired = 0;
  let overQuota = 0;
  if (expiresAfterMs !== null) {
    expired = (await store.run(`DELETE FROM ${AUDIT_TABLE} WHERE time_ms < ?`, [now.getTime() - expiresAfterMs])).changes;
  }
  if (maxRows !== null) {
    const [c] = await store.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${AUDIT_TABLE}`);
    const excess = Number(c?.n ?? 0) - maxRows;
    if (excess > 0) {
      overQuota = (await store.run(`DELETE FROM ${AUDIT_TABLE} WHERE id IN (SELECT id FROM ${AUDIT_TABLE} ORDER BY time_ms ASC, id ASC LIMIT ?)`, [excess]))
        .changes;
    }
  }
  return { expired, overQuota };
}
