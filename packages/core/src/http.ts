// One HTTP server per gateway (fastify): modules register routes; JSON body limits, bearer-token auth, and
// the caller's IP with an opt-in trusted-proxy rule for X-Forwarded-For.
import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { ConfigError } from "./errors.js";
import type { EventBus } from "./events.js";
import type { Logger } from "./logger.js";

export interface HttpOptions {
  /** `host:port` (default 127.0.0.1:5281, Prosody's HTTPS port number on loopback). */
  listen?: string;
  /** Bearer token required by routes registered with `auth: true`. Required unless listening on loopback. */
  token?: string;
  /** Proxies whose X-Forwarded-For is believed (IPs or CIDRs). Default: none, the socket address is the IP. */
  trustedProxies?: string[];
  /** Largest JSON body in bytes (default 1 MiB); larger bodies get 413. */
  bodyLimit?: number;
  logger?: Logger;
  events?: EventBus;
}

export interface HttpServer {
  readonly app: FastifyInstance;
  /** Pre-handler that answers 401 unless the request carries `Authorization: Bearer <token>`. */
  readonly requireToken: (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
  start(): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
  /** The bound address after start(). */
  readonly address: { host: string; port: number } | undefined;
  readonly url: string | undefined;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(listen.trim());
  if (!m || !m[1]) throw new ConfigError(`http.listen: expected "host:port", got ${JSON.stringify(listen)}`, [{ path: "http.listen", message: "expected host:port" }]);
  const port = Number(m[2]);
  if (port > 65535) throw new ConfigError(`http.listen: port ${port} is out of range`, [{ path: "http.listen", message: "port out of range" }]);
  return { host: m[1], port };
}

/**
 * In a route scope: take every body as text, whatever its Content-Type, so the route parses it and answers
 * a bad one with its own clear 400 (`curl -d` sends application/x-www-form-urlencoded; Prosody's modules
 * never looked). The gateway's body limit still applies.
 */
export function acceptAnyBodyAsText(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => done(null, body));
}

/** What `requireLink` needs of the lifecycle. */
export interface LinkState {
  readonly online: boolean;
  readonly downReason?: string | undefined;
}

/**
 * Pre-handler for routes whose work needs the XMPP link: while it is down they answer at once with 503, a
 * `Retry-After` and the reason as JSON, instead of failing later with a socket error or waiting out an IQ
 * timeout.
 */
export function requireLink(link: LinkState, retryAfterSeconds = 5) {
  return async (_req: FastifyRequest, reply: FastifyReply) => {
    if (link.online) return;
    const reason = link.downReason ?? "the link is down";
    await reply
      .status(503)
      .header("Retry-After", String(retryAfterSeconds))
      .send({ status: "error", message: `not connected to the XMPP server (${reason}); try again later`, reason });
  };
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

export function createHttpServer(options: HttpOptions = {}): HttpServer {
  const { host, port } = parseListen(options.listen ?? "127.0.0.1:5281");
  if (!options.token && !isLoopback(host)) {
    throw new ConfigError(
      `http.token is required when http.listen is not a loopback address (${host}); set http.token or listen on 127.0.0.1`,
      [{ path: "http.token", message: "required when listening beyond loopback" }],
    );
  }
  const app = Fastify({
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    trustProxy: options.trustedProxies?.length ? options.trustedProxies : false,
    logger: false,
  });
  const log = options.logger;

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) log?.error({ err, method: req.method, url: req.url }, "HTTP handler failed");
    const message =
      err.code === "FST_ERR_CTP_BODY_TOO_LARGE" ? "request body too large"
      : err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" ? "expected Content-Type: application/json"
      : status >= 500 ? "internal error" : err.message;
    void reply.status(status).send({ status: "error", message });
  });
  app.setNotFoundHandler((_req, reply) => void reply.status(404).send({ status: "error", message: "not found" }));

  app.addHook("onResponse", async (req, reply) => {
    options.events?.emit("http-request", {
      method: req.method,
      path: req.url.split("?")[0] ?? req.url,
      status: reply.statusCode,
      ip: req.ip,
      durationMs: Math.round(reply.elapsedTime),
    });
  });

  const expected = options.token ? digest(options.token) : undefined;
  async function requireToken(req: FastifyRequest, reply: FastifyReply) {
    if (!expected) return; // loopback without a token: open
    const header = req.headers.authorization ?? "";
    const m = /^Bearer\s+(.+)$/i.exec(header);
    if (!m || !timingSafeEqual(digest(m[1]!.trim()), expected)) {
      await reply
        .status(401)
        .header("WWW-Authenticate", 'Bearer realm="xmppkit"')
        .send({ status: "error", message: m ? "invalid token" : "missing bearer token" });
    }
  }

  let address: { host: string; port: number } | undefined;
  return {
    app,
    requireToken,
    async start() {
      await app.listen({ host, port });
      const a = app.server.address();
      address = typeof a === "object" && a ? { host: a.address, port: a.port } : { host, port };
      return address;
    },
    async close() {
      await app.close();
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
