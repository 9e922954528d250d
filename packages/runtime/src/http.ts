// One HTTP server per gateway (node:http) serving core's route contract: bodies as text under a size limit,
// bearer-token auth, 503 for routes that need the link while it is down, and the caller's IP with an opt-in
// trusted-proxy rule for X-Forwarded-For. The contract needs no more than a router and a body reader, so no
// framework is loaded (fastify was 60 ms of the gateway's start and 2.6 MiB of its heap; see the gateway README).
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from "node:http";
import { isIP } from "node:net";
import { parse as parseQuery } from "node:querystring";
import { ConfigError, linkDownResponse, type EventBus, type HttpRequest, type HttpResponse, type HttpRoute, type HttpServer, type Logger } from "@xmppkit/core";
import { clientIp } from "./http-client-ip.js";
import { MalformedUrlError, Router } from "./http-router.js";

// node:http from getBuiltinModule, not an `import`: an ES import of a built-in reads every export, and among
// node:http's are lazy getters for WebSocket, CloseEvent and MessageEvent, which load undici (fetch, web
// streams, http2, worker_threads): ~45 ms and ~2 MiB of heap at the gateway's start (bench/startup) for
// nothing the server uses. core's http-client does the same.
const { createServer, validateHeaderName, validateHeaderValue } = process.getBuiltinModule("node:http");

export interface HttpOptions {
  /** `host:port` (default 127.0.0.1:5281, Prosody's HTTPS port number on loopback). */
  listen?: string;
  /** Bearer token required by routes (unless `auth: false`). Required unless listening on loopback. */
  token?: string | undefined;
  /** Proxies whose X-Forwarded-For is believed (IPs or CIDRs). Default: none, the socket address is the IP. */
  trustedProxies?: string[];
  /** Largest body in bytes (default 1 MiB); larger bodies get 413. */
  bodyLimit?: number;
  /** How long close() lets requests in progress finish before it ends their connections (default 5 s). */
  closeGraceMs?: number;
  logger?: Logger;
  events?: EventBus;
}

/** A request answered without a socket (tests): the same routing, auth, limits and errors as over HTTP. */
export interface InjectRequest {
  method?: string;
  /** Path and query, e.g. "/audit?limit=2". */
  url: string;
  headers?: Record<string, string>;
  /** A string as it is, anything else as JSON. */
  payload?: unknown;
  /** The socket address the request seems to come from (default 127.0.0.1). */
  remoteAddress?: string;
}

export interface InjectResponse {
  statusCode: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string;
  json<T = unknown>(): T;
}

export interface RunningHttpServer extends HttpServer {
  /** The node:http server underneath, for what the route contract does not cover (an upgrade, say). */
  readonly server: Server;
  start(): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
  /** Answer a request without a socket, as the server would. */
  inject(request: InjectRequest): Promise<InjectResponse>;
  /**
   * While the routes are still being added (the server listens early, for /healthz): a path no route serves
   * yet is answered 503 with `reason` and Retry-After instead of 404. `undefined`: 404 again.
   */
  starting(reason: string | undefined): void;
  /** The bound address after start(). */
  readonly address: { host: string; port: number } | undefined;
  readonly url: string | undefined;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(listen.trim());
  if (!m?.[1])
    throw new ConfigError(`http.listen: expected "host:port", got ${JSON.stringify(listen)}`, [
      { path: "http.listen", message: `expected "host:port", got ${JSON.stringify(listen)}` },
    ]);
  const port = Number(m[2]);
  if (port > 65535) throw new ConfigError(`http.listen: port ${port} is out of range`, [{ path: "http.listen", message: `port ${port} is out of range` }]);
  return { host: m[1], port };
}

/**
 * The rule for what the HTTP server may listen on: a `host:port`, and a token unless the host is a loopback
 * address. Returns the address; throws a ConfigError (path http.listen or http.token) otherwise. One copy:
 * createHttpServer checks it, and so does the gateway when it loads its config (--check-config included).
 */
export function checkListen(listen: string, token: string | undefined): { host: string; port: number } {
  const address = parseListen(listen);
  if (!token && !isLoopback(address.host)) {
    const why = `is required when http.listen is not a loopback address (${address.host}): set http.token or listen on 127.0.0.1`;
    throw new ConfigError(`http.token ${why}`, [{ path: "http.token", message: why }]);
  }
  return address;
}

export function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return host === "::1";
  return false;
}

function digest(s: string) {
  return createHash("sha256").update(s).digest();
}

/** A check of `Authorization: Bearer <token>`: the 401 to answer, or undefined when the request may pass. */
function bearerCheck(token: string | undefined): (authorization: string | undefined) => HttpResponse | undefined {
  const expected = token ? digest(token) : undefined;
  return (authorization) => {
    if (!expected) return undefined; // loopback without a token: open
    const m = /^Bearer\s+(.+)$/i.exec(authorization ?? "");
    if (m && timingSafeEqual(digest(m[1]!.trim()), expected)) return undefined;
    return {
      status: 401,
      headers: { "www-authenticate": 'Bearer realm="xmppkit"' },
      body: { status: "error", message: m ? "invalid token" : "missing bearer token" },
    };
  };
}

class BodyTooLargeError extends Error {}
/** The client went away (or broke the framing) before its body was all there. */
class BodyIncompleteError extends Error {}

/** What the pipeline needs of a request, from a socket or from inject(). */
interface Incoming {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  ip: string;
  /** The body as text; rejects with BodyTooLargeError past the limit. */
  body(): Promise<string>;
}

/** A response ready for the wire. */
interface Outgoing {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer | undefined;
}

const errorBody = (status: number, message: string, headers: Record<string, string> = {}): Outgoing =>
  encode({ status, headers, body: { status: "error", message } });

/**
 * A route's answer → status, headers (lower-case) and bytes: a string as it is, anything else as JSON.
 * Throws for what HTTP cannot carry (a header with a newline, status 1000), so that over a socket and
 * through inject() a handler's bad answer is the same 500.
 */
function encode(res: HttpResponse): Outgoing {
  const status = res.status ?? 200;
  if (!Number.isInteger(status) || status < 100 || status > 999) throw new RangeError(`invalid HTTP status ${String(status)}`);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers ?? {})) {
    validateHeaderName(name);
    validateHeaderValue(name, value);
    headers[name.toLowerCase()] = value;
  }
  let body: string | Buffer | undefined;
  if (res.body === undefined) body = undefined;
  else if (typeof res.body === "string") {
    body = res.body;
    headers["content-type"] ??= "text/plain; charset=utf-8";
  } else if (res.body instanceof Uint8Array) {
    body = Buffer.from(res.body.buffer, res.body.byteOffset, res.body.byteLength);
    headers["content-type"] ??= "application/octet-stream";
  } else {
    body = JSON.stringify(res.body);
    headers["content-type"] ??= "application/json; charset=utf-8";
  }
  headers["content-length"] = String(body === undefined ? 0 : Buffer.byteLength(body));
  return { status, headers, body };
}

function splitUrl(url: string): { path: string; query: Record<string, string | string[] | undefined> } {
  const q = url.indexOf("?");
  if (q < 0) return { path: url, query: {} };
  return { path: url.slice(0, q), query: parseQuery(url.slice(q + 1)) as Record<string, string | string[] | undefined> };
}

interface Pipeline {
  router: Router<HttpRoute>;
  unauthorized: (authorization: string | undefined) => HttpResponse | undefined;
  logger: Logger | undefined;
  /** While set, a path no route serves yet is answered 503 with this reason (the routes are still coming). */
  starting: string | undefined;
}

/** Route, check, read, handle: the answer to one request. Never rejects. */
async function answer({ router, unauthorized, logger, starting }: Pipeline, req: Incoming): Promise<Outgoing> {
  const { path, query } = splitUrl(req.url);
  let match: ReturnType<typeof router.find>;
  try {
    match = router.find(req.method, path);
  } catch (err) {
    if (err instanceof MalformedUrlError) return errorBody(400, "malformed URL");
    throw err;
  }
  if (!match) return starting ? errorBody(503, starting, { "retry-after": "5" }) : errorBody(404, "not found");
  const { route, params } = match;
  try {
    const refused = route.auth === false ? undefined : unauthorized(req.headers.authorization);
    if (refused) return encode(refused);
    if (route.link && !route.link.online) return encode(linkDownResponse(route.link));
    const body = await req.body();
    const request: HttpRequest = { method: route.method, path, params, query, headers: req.headers, body, ip: req.ip };
    return encode(await route.handler(request));
  } catch (err) {
    if (err instanceof BodyTooLargeError) return errorBody(413, "request body too large", { connection: "close" });
    if (err instanceof BodyIncompleteError) return errorBody(400, "request body incomplete", { connection: "close" });
    const status = (err as { statusCode?: unknown } | null | undefined)?.statusCode;
    if (typeof status === "number" && status >= 400 && status < 500) return errorBody(status, (err as Error).message);
    logger?.error({ err, method: req.method, url: req.url }, "HTTP handler failed");
    return errorBody(500, "internal error");
  }
}

/** A request's body as text, refused past `limit` bytes (at once when Content-Length says so). */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  if (Number(req.headers["content-length"]) > limit) return Promise.reject(new BodyTooLargeError());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.off("data", onData);
      reject(new BodyTooLargeError());
    };
    req.on("data", onData);
    req.once("end", () => resolve(Buffer.concat(chunks, size).toString("utf8")));
    req.once("error", () => reject(new BodyIncompleteError()));
  });
}

/**
 * Send the answer. The connection is closed after it while the server is closing, and when the request's
 * body was not read (a 401, 404 or 503 answered first): Node would otherwise read and drop all of it to
 * keep the connection, with no limit.
 */
function write(req: IncomingMessage, res: ServerResponse, out: Outgoing, closing: boolean): void {
  if (res.destroyed) return;
  const headers = closing || !req.complete ? { ...out.headers, connection: "close" } : out.headers;
  res.writeHead(out.status, headers);
  res.end(out.body);
}

/** How long close() waits for requests in progress before it ends their connections, by default. */
const CLOSE_GRACE_MS = 5000;

export function createHttpServer(options: HttpOptions = {}): RunningHttpServer {
  const { host, port } = checkListen(options.listen ?? "127.0.0.1:5281", options.token);
  const bodyLimit = options.bodyLimit ?? 1024 * 1024;
  const ipOf = clientIp(options.trustedProxies);
  const pipeline: Pipeline = { router: new Router<HttpRoute>(), unauthorized: bearerCheck(options.token), logger: options.logger, starting: undefined };
  const report = (method: string, url: string, status: number, ip: string, started: number) =>
    options.events?.emit("http-request", { method, path: splitUrl(url).path, status, ip, durationMs: Math.round(performance.now() - started) });

  let closing = false;
  const server = createServer({ keepAliveTimeout: 72_000 }, (req, res) => {
    const started = performance.now();
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    const ip = ipOf(req.socket.remoteAddress ?? "", req.headers["x-forwarded-for"]);
    res.once("finish", () => report(method, url, res.statusCode, ip, started));
    void answer(pipeline, { method, url, headers: req.headers, ip, body: () => readBody(req, bodyLimit) })
      .then((out) => write(req, res, out, closing))
      .catch((err: unknown) => {
        // Nothing left to answer with: end the connection, never the process.
        options.logger?.error({ err, method, url }, "HTTP answer failed");
        res.destroy();
      });
  });

  let address: { host: string; port: number } | undefined;
  return {
    server,
    route(route: HttpRoute) {
      pipeline.router.add(route.method, route.path, route);
    },
    starting(reason) {
      pipeline.starting = reason;
    },
    async inject(request) {
      const started = performance.now();
      const method = (request.method ?? "GET").toUpperCase();
      const headers: IncomingHttpHeaders = {};
      for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
      const payload = request.payload === undefined || typeof request.payload === "string" ? (request.payload ?? "") : JSON.stringify(request.payload);
      const ip = ipOf(request.remoteAddress ?? "127.0.0.1", headers["x-forwarded-for"]);
      const body = () => (Buffer.byteLength(payload) > bodyLimit ? Promise.reject(new BodyTooLargeError()) : Promise.resolve(payload));
      const out = await answer(pipeline, { method, url: request.url, headers, ip, body });
      report(method, request.url, out.status, ip, started);
      const text = method === "HEAD" || out.body === undefined ? "" : out.body.toString();
      return { statusCode: out.status, headers: out.headers, body: text, json: <T>() => JSON.parse(text) as T };
    },
    async start() {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host, port }, () => {
          server.off("error", reject);
          resolve();
        });
      });
      const a = server.address();
      address = typeof a === "object" && a ? { host: a.address, port: a.port } : { host, port };
      return address;
    },
    async close() {
      closing = true;
      if (!server.listening) return;
      // Idle keep-alive connections close now; a request in progress is answered (with Connection: close)
      // for up to closeGraceMs, then its connection is ended: a slow upload or a stuck handler never
      // holds up a shutdown (Node stops its request timeouts once the server is closing).
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const grace = setTimeout(() => server.closeAllConnections(), options.closeGraceMs ?? CLOSE_GRACE_MS);
      await closed;
      clearTimeout(grace);
    },
    get address() {
      return address;
    },
    get url() {
      if (!address) return undefined;
      const h = address.host.includes(":") ? `[${address.host}]` : address.host;
      return `http://${h}:${address.port}`;
    },
  };
}
