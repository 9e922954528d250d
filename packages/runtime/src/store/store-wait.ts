// Waiting for a store that cannot be reached yet, as the gateway waits for its XMPP server: PostgreSQL
// stopped, restarting, or not up yet at boot is an expected condition, retried with backoff and said in one
// line; a wrong password or a database that does not exist is not, and is thrown at once.
import { backoffDelay, sleep, type BackoffOptions, type Store } from "@xmppkit/core";
import { openStore, type StoreOptions } from "./open-store.js";

/** Socket errors, and PostgreSQL's own "not now" codes (starting up, shutting down, too many connections). */
const TRANSIENT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "57P01",
  "57P02",
  "57P03",
  "53300",
]);

/** Is `err` a store that cannot be reached now (worth waiting for), rather than a wrong setting? */
export function storeUnreachable(err: unknown): boolean {
  const e = err as { code?: string; message?: string; errors?: unknown[] };
  if (e?.code && TRANSIENT_CODES.has(e.code)) return true;
  if (Array.isArray(e?.errors) && e.errors.some(storeUnreachable)) return true; // AggregateError: every address refused
  return /Connection terminated|timeout expired|the database system is (starting up|shutting down)/i.test(e?.message ?? "");
}

/** The error as an operator reads it: the driver's message, or its code (an AggregateError has none). */
export const storeErrorText = (err: unknown): string => {
  const e = err as { code?: string; message?: string; errors?: { message?: string }[] };
  return e?.message || e?.errors?.map((x) => x.message).join("; ") || e?.code || String(err);
};

export interface StoreWaitOptions {
  signal?: AbortSignal | undefined;
  /** Called before each wait, with the error and the attempt (1, 2, …). */
  onWaiting?(error: string, attempt: number): void;
  /** Default 0.5 s doubling to 5 s: a store back is used within 5 s. */
  backoff?: BackoffOptions;
}

/** Open the configured store, waiting (with backoff) while PostgreSQL cannot be reached; rejects when `signal` aborts. */
export async function openStoreWhenReachable(options: StoreOptions, wait: StoreWaitOptions = {}): Promise<Store> {
  for (let attempt = 1; ; attempt++) {
    wait.signal?.throwIfAborted();
    try {
      return await openStore(options);
    } catch (err) {
      if (!options.postgres || !storeUnreachable(err)) throw err;
      wait.onWaiting?.(storeErrorText(err), attempt);
      await sleep(backoffDelay(attempt - 1, { initial: 500, max: 5000, ...wait.backoff }), wait.signal);
    }
  }
}
