// One HTTP server per gateway (fastify) serving core's route contract: bodies as text under a size limit,
// bearer-token auth, 503 for routes that need the link while it is down, and the caller's IP with an opt-in
// trusted-proxy rule for X-Forwarded-For.
import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import {
  ConfigError,
  linkDownResponse,
  type EventBus,
  type HttpMethod,
  type HttpRequest,
  type HttpResponse,
  type HttpRoute,
  type HttpServer,
  type Logger,
} from "@xmppkit/core";
import { createRequire } from "node:module";
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from "fastify";
import type Fastify from "fastify";

export interface HttpOptions {
  /** `host:port` (default 127.0.0.1:5281, Prosody's HTTPS port number on loopback). */
  listen?: string;
  /** Bearer token required by routes (unless `auth: false`). Required unless listening on loopback. */
  token?: string;
  /** Proxies whose X-Forwarded-For is believed (IPs or CIDRs). Default: none, the socket address is the IP. */
  trustedProxies?: string[];
  /** Largest body in bytes (default 1 MiB); larger bodies get 413. */
  bodyLimit?: number;
  logger?: Logger;
  events?: EventBus;
}

export interface RunningHttpServer extends HttpServer {
  /** The fastify instance underneath, for what the route contract does not cover. */
  readonly app: FastifyInstance;
  start(): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
  /** The bound address after start(). */
  readonly address: { host: string; port: number } | undefined;
  readonly url: string | undefined;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(listen.trim());
  if (!m?.[1])
    throw new ConfigError(`http.listen: expected "host:port", got ${JSON.stringify(listen)}`, [{ path: "http.listen", message: "expected host:port" }]);
  const port = Number(m[2]);
  if (port > 65535) throw new ConfigError(`http.listen: port ${port} is out of range`, [{ path: "http.listen", message: "port out of range" }]);
  return { host: m[1], port };
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

function toRequest(req: FastifyRequest, method: HttpMethod): HttpRequest {
  return {
    method,
    path: req.url.split("?")[0] ?? req.url,
    params: (req.params ?? {}) as Record<string, string>,
    query: (req.query ?? {}) as Record<string, string | string[] | undefined>,
    headers: req.headers,
    body: typeof req.body === "string" ? req.body : "",
    ip: req.ip,
  };
}

async function send(reply: FastifyReply, res: HttpResponse): Promise<FastifyReply> {
  void reply.status(res.status ?? 200);
  for (const [name, value] of Object.entries(res.headers ?? {})) void reply.header(name, value);
  return reply.send(res.body);
}

// fastify is loaded when the first server is created (a bot or a gateway command that serves no HTTP never
// loads it), and without its JSON-schema compilers: by default a fastify instance loads ajv and
// fast-json-stringify (~110 modules, ~40 ms, ~1.2 MiB of heap) when it is created, although the route
// contract has no schemas. They are loaded, from fastify's own dependencies, by the first route given a schema
// through `app`; `app` behaves as a plain fastify instance.
const load = createRequire(import.meta.url);
type SchemaCompilerFactory = (externalSchemas: unknown, options: unknown) => unknown;

/** A compiler factory of fastify's (one pool per server, as fastify keeps it), loaded on its first call. */
function onFirstCall(fromFastify: NodeJS.Require, id: string): SchemaCompilerFactory {
  let factory: SchemaCompilerFactory | undefined;
  return (externalSchemas, options) => {
    factory ??= (fromFastify(id) as () => SchemaCompilerFactory)();
    return factory(externalSchemas, options);
  };
}

function newFastify(options: FastifyServerOptions): FastifyInstance {
  const fastify = load("fastify") as typeof Fastify;
  const fromFastify = createRequire(load.resolve("fastify"));
  const compilersFactory = {
    buildValidator: onFirstCall(fromFastify, "@fastify/ajv-compiler"),
    buildSerializer: onFirstCall(fromFastify, "@fastify/fast-json-stringify-compiler"),
  };
  const app = fastify({ ...options, schemaController: { compilersFactory: compilersFactory as never } });
  // fastify treats any given compiler factory as a custom validator (Joi, TypeBox…) and then stops matching
  // header schemas case-insensitively; these are its own compilers, so keep its default behaviour.
  const { kSchemaController } = fromFastify("./lib/symbols.js") as { kSchemaController: symbol };
  const controller = (app as unknown as Record<symbol, { isCustomValidatorCompiler?: boolean } | undefined>)[kSchemaController];
  if (controller) controller.isCustomValidatorCompiler = false;
  return app;
}

function createApp(options: HttpOptions): FastifyInstance {
  const app = newFastify({
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    trustProxy: options.trustedProxies?.length ? options.trustedProxies : false,
    logger: false,
  });
  // Every body is text; each route parses its own and answers a bad one with its own 400.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) options.logger?.error({ err, method: req.method, url: req.url }, "HTTP handler failed");
    const message = err.code === "FST_ERR_CTP_BODY_TOO_LARGE" ? "request body too large" : status >= 500 ? "internal error" : err.message;
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
  return app;
}

export function createHttpServer(options: HttpOptions = {}): RunningHttpServer {
  const { host, port } = parseListen(options.listen ?? "127.0.0.1:5281");
  if (!options.token && !isLoopback(host)) {
    throw new ConfigError(`http.token is required when http.listen is not a loopback address (${host}); set http.token or listen on 127.0.0.1`, [
      { path: "http.token", message: "required when listening beyond loopback" },
    ]);
  }
  const app = createApp(options);
  const unauthorized = bearerCheck(options.token);

  let address: { host: string; port: number } | undefined;
  return {
    app,
    route(route: HttpRoute) {
      app.route({
        method: route.method,
        url: route.path,
        handler: async (req, reply) => {
          const refused = route.auth === false ? undefined : unauthorized(req.headers.authorization);
          if (refused) return send(reply, refused);
          if (route.link && !route.link.online) return send(reply, linkDownResponse(route.link));
          return send(reply, await route.handler(toRequest(req, route.method)));
        },
      });
    },
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
