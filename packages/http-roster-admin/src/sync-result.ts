// What a sync says: a result with counts, or a RosterSyncError with the reason and what the server applied.
import { XmppkitError } from "@xmppkit/core";
import type { FetchFailure } from "./fetch-roster.js";
import type { RosterChange } from "./roster-access.js";
import type { SkippedContact } from "./roster-json.js";

/** What started a sync: the HTTP API, a user coming online, or a direct call. */
export type SyncTrigger = "http" | "login" | "api";

export type SyncFailure = FetchFailure | "invalid-username" | "roster-get" | "roster-set" | "stopped" | "internal";

export interface SyncResult {
  user: string;
  trigger: SyncTrigger;
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
  /** Roster set requests sent to the server: one per edit, or one per batch (mod_xmppkit_roster_batch). */
  requests: number;
  /** Entries of the web roster that were not valid contacts. */
  skipped: SkippedContact[];
  durationMs: number;
}

/** A roster set the server confirmed before a sync failed. */
export interface AppliedChange {
  jid: string;
  change: RosterChange;
}

export class RosterSyncError extends XmppkitError {
  static override readonly brand = "RosterSyncError";
  /** What the server applied before the failure (a link that died part-way); empty: the roster is as it was. */
  readonly applied: AppliedChange[];
  constructor(
    readonly user: string,
    readonly reason: SyncFailure,
    message: string,
    options?: { cause?: unknown; applied?: AppliedChange[] },
  ) {
    super(message, options);
    this.applied = options?.applied ?? [];
  }
}

export interface RefreshResult {
  /** "error" only when every user failed. */
  status: "ok" | "error";
  message: string;
  /** Users whose roster now matches the web application's (changed or not). */
  updated: number;
  errors: number;
}

export interface RosterAdminEvents extends Record<string, unknown> {
  synced: SyncResult;
  /** `applied`: roster sets the server confirmed before the failure (0: the roster was left as it was). */
  "sync-failed": { user: string; trigger: SyncTrigger; reason: SyncFailure; message: string; applied: number };
}

/** One user's sync, from the username to its result (rejects with RosterSyncError). */
export type RunSync = (username: string, trigger: SyncTrigger) => Promise<SyncResult>;
