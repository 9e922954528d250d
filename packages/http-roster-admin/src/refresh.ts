// Many users at once, summarised like Prosody's `/roster_admin/refresh`: duplicates once, "error" only when
// every user failed.
import type { RefreshResult, SyncResult, SyncTrigger } from "./sync-result.js";
import { normalizeUsername } from "./username.js";

export async function refreshUsers(
  sync: (username: string, trigger: SyncTrigger) => Promise<SyncResult>,
  usernames: string[],
  trigger: SyncTrigger = "api",
): Promise<RefreshResult> {
  const unique = [
    ...new Set(
      usernames.map((u) => {
        const c = normalizeUsername(u);
        return "username" in c ? c.username : String(u);
      }),
    ),
  ];
  const results = await Promise.allSettled(unique.map((u) => sync(u, trigger)));
  const errors = results.filter((r) => r.status === "rejected").length;
  const updated = unique.length - errors;
  if (unique.length > 0 && errors === unique.length) {
    const only = unique.length === 1 ? `: ${((results[0] as PromiseRejectedResult).reason as Error).message}` : " (see the log for each user)";
    return { status: "error", message: `roster update failed${only}`, updated, errors };
  }
  return {
    status: "ok",
    message: errors ? `roster update complete; ${errors} of ${unique.length} users failed (see the log)` : "roster update complete",
    updated,
    errors,
  };
}
