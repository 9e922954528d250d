// Syncs started by a user coming online: a local user's available presence (a component with the XEP-0356
// presence permission, https://xmpp.org/extensions/xep-0356.html#presence), or a client bot's own (re)connect.
import { parseJid, type Lifecycle, type Logger, type Sessions } from "@xmppkit/core";
import type { RosterAccess } from "./roster-access.js";
import type { SyncScheduler } from "./sync-scheduler.js";

export interface LoginSyncDeps {
  roster: RosterAccess;
  scheduler: Pick<SyncScheduler, "sync" | "busy" | "stopped">;
  /** Shared with the syncs: when each user was last synced (or a login sync of them tried). */
  lastSynced: Map<string, number>;
  sessions?: Sessions | undefined;
  lifecycle?: Lifecycle | undefined;
  log: Logger;
}

const noop = () => undefined;

/** Start syncing on logins; returns what stops it. */
export function syncOnLogin(
  { roster, scheduler, lastSynced, sessions, lifecycle, log }: LoginSyncDeps,
  { loginDebounce }: { loginDebounce: number },
): (() => void)[] {
  const offs: (() => void)[] = [];
  if (sessions) {
    // Every forwarded available presence, not only a first session: ejabberd replays nothing and forwards no
    // unavailable when a client just closes its stream, so a returning user is seen only as a presence again.
    offs.push(
      sessions.on("presence", ({ user, replayed }) => {
        const parsed = parseJid(user);
        const local = parsed?.local;
        if (!local || parsed.domain !== roster.domain || scheduler.stopped) return;
        const last = lastSynced.get(local);
        if (last !== undefined && Date.now() - last < loginDebounce) return;
        if (scheduler.busy(local)) return; // a sync is running or queued
        log.debug({ user: local, replayed }, "user came online; syncing the roster");
        lastSynced.set(local, Date.now()); // one login sync per debounce, even while it runs or if it fails
        scheduler.sync(local, "login").catch(noop);
      }),
    );
  }
  if (lifecycle && roster.kind === "own") {
    offs.push(
      lifecycle.on("online", () => {
        const self = roster.self;
        if (self && !scheduler.stopped) scheduler.sync(self, "login").catch(noop);
      }),
    );
  }
  return offs;
}
