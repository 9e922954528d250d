// Fetching one user's roster from the web application: GET `http_roster_url`, JSON, with a per-attempt
// timeout and retries with backoff on failures that may pass (timeouts, connection errors, 5xx, 429).
// Every failure is a RosterFetchError with a reason, so the caller can leave that user's roster alone and
// say why; Prosody's module hangs forever on connection errors and invalid JSON.
import { createHash } from "node:crypto";
import { XmppkitError, backoffDelay, type BackoffOptions } from "@xmppkit/core";
import { parseWebRoster, WebRosterError, type WebRoster } from "./roster-json.js";
import { createHttpClient, HttpClientError } from "@xmppkit/core/http-client";
import { rosterUrl } from "./roster-url.js";

export type FetchFailure = "http-status" | "redirect" | "timeout" | "network" | "invalid-json" | "invalid-roster" | "too-large";

export class RosterFetchError extends XmppkitError {
  static override readonly brand = "RosterFetchError";
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
  /**
   * A fetch implementation to use instead of core's HTTP client (keep-alive connections). Redirects are not
   * followed through it: a 3xx is a failure, so the headers never reach another origin.
   */
  fetch?: typeof globalThis.fetch;
  /** Connections to the web app kept open at most (default 64; the sync concurrency is a good value). */
  maxSockets?: number;
}

type HttpGet = (url: string, options: { headers: Record<string, string>; timeout: number; maxBodyBytes: number }) => Promise<{ status: number; text: string }>;

/** GET through a fetch implementation (one given in the options). */
function viaFetch(doFetch: typeof globalThis.fetch): HttpGet {
  return async (url, { headers, timeout, maxBodyBytes }) => {
    const res = await doFetch(url, { method: "GET", headers, signal: AbortSignal.timeout(timeout), redirect: "manual" });
    const length = Number(res.headers.get("content-length") ?? 0);
    if (length > maxBodyBytes) {
      await res.body?.cancel();
      throw new HttpClientError("too-large", `response of ${length} bytes is over the ${maxBodyBytes}-byte limit`, url);
    }
    const text = await res.text();
    if (text.length > maxBodyBytes) throw new HttpClientError("too-large", `response of ${text.length} characters is over the ${maxBodyBytes}-byte limit`, url);
    return { status: res.status, text };
  };
}

/** GET through core's HTTP client: one deadline, a body cap, redirects that keep the headers on their origin. */
function viaClient(maxSockets: number | undefined): HttpGet {
  const client = createHttpClient(maxSockets === undefined ? {} : { maxSockets });
  return (url, options) => client.request(url, options);
}

/** Where the answer came from, and a digest of its body (SHA-256, base64url) that says whether the next is the same. */
export interface FetchInfo {
  url: string;
  attempts: number;
  digest: string;
}

/** The web app's answer, read. */
export type FetchedRoster = WebRoster & FetchInfo & { same?: false };

/** The web app's answer was byte for byte the body of `unlessDigest`: not read again. */
export type SameRoster = FetchInfo & { same: true };

export interface RosterFetcher {
  (username: string): Promise<FetchedRoster>;
  /** With `unlessDigest`, a body of that digest is not parsed again: `{ same: true }`. */
  (username: string, options: { unlessDigest?: string | undefined }): Promise<FetchedRoster | SameRoster>;
}

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

  const httpGet = options.fetch ? viaFetch(options.fetch) : viaClient(options.maxSockets);

  async function attempt(url: string, unlessDigest: string | undefined): Promise<(WebRoster & { digest: string }) | { same: true; digest: string }> {
    let res: { status: number; text: string };
    try {
      res = await httpGet(url, { headers, timeout, maxBodyBytes: maxBody });
    } catch (err) {
      if (HttpClientError.isInstance(err) && err.reason === "too-large") throw new RosterFetchError("too-large", err.message, url);
      if (HttpClientError.isInstance(err) && err.reason === "redirect") throw new RosterFetchError("redirect", err.message, url);
      const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
      if (HttpClientError.isInstance(err) && err.reason === "timeout") throw new RosterFetchError("timeout", `no answer within ${timeout} ms`, url);
      if (e.name === "TimeoutError" || e.name === "AbortError") throw new RosterFetchError("timeout", `no answer within ${timeout} ms`, url);
      const detail = e.code ?? e.cause?.code ?? e.cause?.message ?? e.message;
      throw new RosterFetchError("network", `request failed: ${detail}`, url);
    }
    const text = res.text;
    if (res.status !== 200) {
      throw new RosterFetchError("http-status", `HTTP ${res.status}${text ? `: ${firstLine(text)}` : ""}`, url, res.status);
    }
    // Hashing a 50-contact answer takes a few µs; parsing and checking it ~0.15 ms (bench/roster-refresh).
    const digest = createHash("sha256").update(text).digest("base64url");
    if (digest === unlessDigest) return { same: true, digest };
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new RosterFetchError("invalid-json", `invalid JSON: ${(err as Error).message}`, url, 200);
    }
    try {
      return { ...parseWebRoster(body), digest };
    } catch (err) {
      if (WebRosterError.isInstance(err)) throw new RosterFetchError("invalid-roster", err.message, url, 200);
      throw err;
    }
  }

  return (async (username: string, { unlessDigest }: { unlessDigest?: string | undefined } = {}) => {
    const url = rosterUrl(options.url, username);
    for (let n = 0; ; n++) {
      try {
        return { ...(await attempt(url, unlessDigest)), url, attempts: n + 1 };
      } catch (err) {
        if (!RosterFetchError.isInstance(err) || !err.retryable || n >= retries) throw err;
        await sleep(backoffDelay(n, backoff));
      }
    }
  }) as RosterFetcher;
}
