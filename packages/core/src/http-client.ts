// @xmppkit/core/http-client: the one HTTP client every package uses for its outgoing requests (a web app's
// rosters, ejabberd's admin API, XEP-0489 account sources).
//   - One deadline for the whole exchange: connection, every redirect and the body.
//   - A body cap, checked against Content-Length and while reading.
//   - Keep-alive connections, at most `maxSockets` per origin.
//   - Redirects: GET only, a bounded number, never https→http. The request's headers (credentials, API
//     keys, anything custom) go only to the origin they were given for (or its upgrade to https on the same
//     host); another origin gets `accept`, `accept-language` and `user-agent` alone.
// Built on node:http(s), not fetch: Node's fetch (undici, web streams, an AbortSignal per request) cost more
// CPU per roster than the roster itself (bench/roster-sync), and no client follows redirects by this rule
// (fetch and undici's redirect interceptor forward custom headers to any origin), so redirects are ours either way.
import type { ClientRequest, IncomingMessage } from "node:http";
import { XmppkitError } from "./errors.js";

// From getBuiltinModule, not an `import`: an ES import of a built-in reads every export, and node:http's
// include lazy getters (WebSocket, CloseEvent, MessageEvent) that load undici, ~45 ms and ~2 MiB of heap at
// start for nothing this client uses (the gateway README, "Start and memory").
const { Agent: HttpAgent, request: httpRequest } = process.getBuiltinModule("node:http");
const { Agent: HttpsAgent, request: httpsRequest } = process.getBuiltinModule("node:https");

export type HttpClientFailure = "timeout" | "too-large" | "redirect" | "network";

/** A request that got no usable answer; `reason` says why. */
export class HttpClientError extends XmppkitError {
  static override readonly brand = "HttpClientError";
  constructor(
    readonly reason: HttpClientFailure,
    message: string,
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface HttpClientRequest {
  method?: "GET" | "POST" | "PUT" | "DELETE";
  headers?: Record<string, string>;
  body?: string;
  /** ms for the whole exchange, redirects and body included. */
  timeout: number;
  /** Fail with reason "too-large" past this many response bytes. */
  maxBodyBytes: number;
  /** Redirects followed at most (GET only; default 5, 0 returns the 3xx as the answer). */
  maxRedirects?: number;
}

export interface HttpClientResponse {
  status: number;
  headers: IncomingMessage["headers"];
  text: string;
  /** The URL that answered, after redirects. */
  url: string;
}

export interface HttpClient {
  request(url: string, options: HttpClientRequest): Promise<HttpClientResponse>;
  /** Close the kept-alive connections. */
  destroy(): void;
}

/** Headers that may follow a redirect to another origin: nothing that identifies or authorises the caller. */
const CROSS_ORIGIN_HEADERS = new Set(["accept", "accept-language", "user-agent"]);

/** Where the headers may follow: the same origin, or its upgrade from http to https (same host, same or default port). */
function sameParty(from: URL, to: URL): boolean {
  if (from.origin === to.origin) return true;
  return from.protocol === "http:" && to.protocol === "https:" && from.hostname === to.hostname && (to.port === "" || to.port === from.port);
}

/** The headers for the next hop: all of them on the same origin (or its https upgrade), the harmless ones elsewhere. */
export function redirectHeaders(headers: Record<string, string>, from: URL, to: URL): Record<string, string> {
  if (sameParty(from, to)) return headers;
  return Object.fromEntries(Object.entries(headers).filter(([name]) => CROSS_ORIGIN_HEADERS.has(name.toLowerCase())));
}

/** Where a 3xx answer sends a GET next, or why it may not go there. */
export function nextHop(from: URL, res: IncomingMessage, hops: number, max: number): URL | string | undefined {
  const location = res.headers.location;
  if (!location || !res.statusCode || res.statusCode < 300 || res.statusCode >= 400 || max === 0) return undefined;
  if (hops >= max) return `more than ${max} redirects`;
  let to: URL;
  try {
    to = new URL(location, from);
  } catch {
    return `a redirect to an invalid URL (${location.slice(0, 100)})`;
  }
  if (to.protocol !== "http:" && to.protocol !== "https:") return `a redirect to ${to.protocol}`;
  if (from.protocol === "https:" && to.protocol === "http:") return `a redirect from https to http (${to.origin})`;
  return to;
}

/** Read a body up to `max` bytes. */
function readBody(res: IncomingMessage, max: number, url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const announced = Number(res.headers["content-length"] ?? 0);
    // Settle before destroying: destroy() says "aborted" at once.
    if (announced > max) {
      reject(new HttpClientError("too-large", `response of ${announced} bytes is over the ${max}-byte limit`, url));
      return void res.destroy();
    }
    const chunks: Buffer[] = [];
    let length = 0;
    res.on("data", (chunk: Buffer) => {
      length += chunk.length;
      if (length <= max) return void chunks.push(chunk);
      reject(new HttpClientError("too-large", `response of over ${max} bytes (read ${length})`, url));
      res.destroy();
    });
    res.on("end", () => resolve(Buffer.concat(chunks, length).toString("utf8")));
    res.on("error", (err) => reject(new HttpClientError("network", `the answer broke off: ${err.message}`, url, { cause: err })));
    res.on("aborted", () => reject(new HttpClientError("network", "the connection closed mid-body", url)));
  });
}

function networkError(err: Error & { code?: string }, url: string): HttpClientError {
  return HttpClientError.isInstance(err) ? err : new HttpClientError("network", `request failed: ${err.code ?? err.message}`, url, { cause: err });
}

/** A client with its own keep-alive agents. */
export function createHttpClient({ maxSockets = 64 }: { maxSockets?: number } = {}): HttpClient {
  const agents = {
    "http:": new HttpAgent({ keepAlive: true, maxSockets, scheduling: "lifo" }),
    "https:": new HttpsAgent({ keepAlive: true, maxSockets, scheduling: "lifo" }),
  };

  /** One hop; `current` holds its request so the exchange's deadline can end it. */
  function hop(target: URL, options: HttpClientRequest, headers: Record<string, string>, current: { req?: ClientRequest }) {
    return new Promise<{ res: IncomingMessage }>((resolve, reject) => {
      const protocol = target.protocol as keyof typeof agents;
      if (!(protocol in agents)) return reject(new HttpClientError("network", `unsupported protocol ${target.protocol}`, target.href));
      const send = protocol === "https:" ? httpsRequest : httpRequest;
      const method = options.method ?? "GET";
      const req = send(target, { method, headers, agent: agents[protocol] }, (res) => resolve({ res }));
      current.req = req;
      req.on("error", (err) => reject(networkError(err, target.href)));
      req.end(options.body);
    });
  }

  async function exchange(url: string, options: HttpClientRequest, current: { req?: ClientRequest; res?: IncomingMessage }) {
    let target = new URL(url);
    let headers = options.headers ?? {};
    const max = (options.method ?? "GET") === "GET" ? (options.maxRedirects ?? 5) : 0;
    for (let hops = 0; ; hops++) {
      const { res } = await hop(target, options, headers, current);
      current.res = res;
      const next = nextHop(target, res, hops, max);
      if (next === undefined) {
        const text = await readBody(res, options.maxBodyBytes, target.href);
        return { status: res.statusCode ?? 0, headers: res.headers, text, url: target.href };
      }
      // A redirect's body is never read: its connection goes, so a slow or endless one holds nothing.
      res.destroy();
      if (typeof next === "string") throw new HttpClientError("redirect", `refused ${next}`, target.href);
      headers = redirectHeaders(headers, target, next);
      target = next;
    }
  }

  async function request(url: string, options: HttpClientRequest): Promise<HttpClientResponse> {
    const current: { req?: ClientRequest; res?: IncomingMessage } = {};
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new HttpClientError("timeout", `no answer within ${options.timeout} ms`, url));
        current.res?.destroy();
        current.req?.destroy();
      }, options.timeout);
    });
    try {
      return await Promise.race([exchange(url, options, current), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    request,
    destroy() {
      for (const agent of Object.values(agents)) agent.destroy();
    },
  };
}
