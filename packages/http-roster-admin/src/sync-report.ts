// Each sync's outcome said once: one log line and one event ("synced" or "sync-failed"). Any failure comes out
// as a RosterSyncError (an unexpected one with reason "internal").
import type { Logger, TypedEmitter } from "@xmppkit/core";
import { RosterSyncError, type RosterAdminEvents, type RunSync } from "./sync-result.js";

export interface SyncReportDeps {
  log: Logger;
  emitter: Pick<TypedEmitter<RosterAdminEvents>, "emit">;
}

/** `run`, with its outcome logged and emitted. */
export function reportSyncs({ log, emitter }: SyncReportDeps, run: RunSync): RunSync {
  return async function reported(username, trigger) {
    try {
      const result = await run(username, trigger);
      const changes = result.added + result.changed + result.removed;
      log[changes ? "info" : "debug"](
        {
          user: username,
          trigger,
          added: result.added,
          changed: result.changed,
          removed: result.removed,
          skipped: result.skipped.length,
          ms: result.durationMs,
        },
        changes ? "roster synced" : "roster unchanged",
      );
      emitter.emit("synced", result);
      return result;
    } catch (err) {
      const e = RosterSyncError.isInstance(err) ? err : new RosterSyncError(username, "internal", (err as Error).message, { cause: err });
      if (e.applied.length) {
        // Part-way (a link that died mid-sync): say exactly what the server has, the next sync does the rest.
        const applied = e.applied.map((a) => `${a.change} ${a.jid}`);
        log.warn({ user: username, trigger, reason: e.reason, err: e.message, applied }, "roster sync failed part-way; these changes were applied");
      } else if (e.reason !== "stopped") {
        log.warn({ user: username, trigger, reason: e.reason, err: e.message }, "roster sync failed; the roster was left as it was");
      }
      emitter.emit("sync-failed", { user: username, trigger, reason: e.reason, message: e.message, applied: e.applied.length });
      throw e;
    }
  };
}
