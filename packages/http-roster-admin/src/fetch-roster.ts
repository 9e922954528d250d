// Fetching one user's roster from the web application: GET `http_roster_url`, JSON, with a per-attempt
// timeout and retries with backoff on failures that may pass (timeouts, connection errors, 5xx, 429).
// Every failure is a RosterFetchError with a reason, so the caller can leave that user's roster alone and
// say why; Prosody's module hangs forever on connection errors and invalid JSON.
import { backoffDelay, type BackoffOptions } from "@xmppkit/core";
import { parseWebRoster, WebRosterError, type WebRoster } from "./roster-json.js";
import { createHttpGet, TooLargeError, type HttpGet, type HttpGetResult } from "./http-get.js";
import { rosterUrl } from "./roster-url.js";

export type FetchFailure = "http-status" | "timeout" | "network" | "invalid-json" | "invalid-roster" | "too-large";

export class RosterFetchError extends Error {
  override name = "RosterFetchError";
  constructor(
    readonly reason: FetchFailure,
    message: string,
    readonly url: string,
    readonly status?: number,
  ) {
    super(message);
  }
  /** Worth another attempt: the backend may recover. */
  get retryable(): boolean {
    return this.reason === "timeout" || this.reason === "network" || (this.reason === "http-status" && (this.status! >= 500 || this.status === 429));
  }
}

export interface FetcherOptions {
  /** `http_roster_url`: `%s` is replaced by the URL-encoded username. */
  url: string;
  /** Per-attempt timeout in ms (default 10 s). */
  timeout?: number;
  /** Further attempts after a retryable failure (default 2). */
  retries?: number;
  backoff?: BackoffOptions;
  /** Extra request headers, e.g. `{ Authorization: "Bearer …" }` for the web app. */
  headers?: Record<string, string>;
  /** Largest accepted response body in bytes (default 8 MiB). */
  maxBodyBytes?: number;
  /** A fetch implementation to use instead of node:http with keep-alive connections. */
  fetch?: typeof globalThis.fetch;
  /** Connections to the web app kept open at most (default 64; the sync concurrency is a good value). */
  maxSockets?: number;
}

/** GET through a fetch implementation (one given in the options). */
function viaFetch(doFetch: typeof globalThis.fetch): HttpGet {
  return async (url, { headers, timeout, maxBodyBytes }) => {
    const res = await doFetch(url, { method: "GET", headers, signal: AbortSignal.timeout(timeout), redirect: "follow" });
    const length = Number(res.headers.get("content-length") ?? 0);
    if (length > maxBodyBytes) {
      await res.body?.cancel();
      throw new TooLargeError(length);
    }
    const text = await res.text();
    if (text.length > maxBodyBytes) throw new TooLargeError(text.length);
    return { status: res.status, text };
  };
}

export type RosterFetcher = (username: string) => Promise<WebRoster & { url: string; attempts: number }>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function firstLine(text: string): string {
  const line = text.trim().split(/\r?\n/, 1)[0] ?? "";
  return line.length > 80 ? `${line.slice(0, 80)}…` : line;
}

export function createRosterFetcher(options: FetcherOptions): RosterFetcher {
  const timeout = options.timeout ?? 10_000;
  const retries = options.retries ?? 2;
  const maxBody = options.maxBodyBytes ?? 8 * 1024 * 1024;
  const backoff = { initial: 250, max: 5_000, ...options.backoff };
  const headers = { accept: "application/json", ...options.headers };

  const httpGet = options.fetch ? viaFetch(options.fetch) : createHttpGet({ maxSockets: options.maxSockets });

  async function attempt(url: string): Promise<WebRoster> {
    let res: HttpGetResult;
    try {
      res = await httpGet(url, { headers, timeout, maxBodyBytes: maxBody });
    } catch (err) {
      if (err instanceof TooLargeError) throw new RosterFetchError("too-large", `${err.message} is over the ${maxBody}-byte limit`, url);
      const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
      if (e.name === "TimeoutError" || e.name === "AbortError") throw new RosterFetchError("timeout", `no answer within ${timeout} ms`, url);
      const detail = e.code ?? e.cause?.code ?? e.cause?.message ?? e.message;
      throw new RosterFetchError("network", `request failed: ${detail}`, url);
    }
    const text = res.text;
    if (res.status !== 200) {
      throw new RosterFetchError("http-status", `HTTP ${res.status}${text ? `: ${firstLine(text)}` : ""}`, url, res.status);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new RosterFetchError("invalid-json", `invalid JSON: ${(err as Error).message}`, url, 200);
    }
    try {
      return parseWebRoster(body);
    } catch (err) {
      if (err instanceof WebRosterError) throw new RosterFetchError("invalid-roster", err.message, url, 200);
      throw err;
    }
  }

  return async (username) => {
    const url = rosterUrl(options.url, username);
    for (let n = 0; ; n++) {
      try {
        return { ...(await attempt(url)), url, attempts: n + 1 };
      } catch (err) {
        if (!(err instanceof RosterFetchError) || !err.retryable || n >= retries) throw err;
        await sleep(backoffDelay(n, backoff));
      }
    }
  };
}
