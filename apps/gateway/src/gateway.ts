// Composition only: build the component, wire core, load the enabled modules, serve HTTP, and shut down in
// order. Everything protocol-related lives in @xmppkit/core and the feature packages.
import { join } from "node:path";
import {
  ConfigError,
  EventBus,
  createHttpServer,
  createLogger,
  createMetrics,
  moduleRequirements,
  openStore,
  parseModuleOptions,
  setupKit,
  type AnyModuleDefinition,
  type HttpServer,
  type Kit,
  type Logger,
  type Metrics,
  type ModuleContext,
  type ModuleRequirements,
  type Store,
  type XmppEntity,
} from "@xmppkit/core";
import type { MucJoins } from "@xmppkit/track-muc-joins";
import { locatedError, type GatewayConfig, type SourceMap } from "./config.js";
import { reportGrants } from "./grants.js";
import { orderModules, resolveModules } from "./modules.js";

declare const __XMPPKIT_GATEWAY_VERSION__: string | undefined;
/** The package version, injected by the build (tsup `define`); "0.0.0-dev" when run from source. */
export const GATEWAY_VERSION = typeof __XMPPKIT_GATEWAY_VERSION__ === "string" ? __XMPPKIT_GATEWAY_VERSION__ : "0.0.0-dev";

export interface GatewayOptions {
  /** Module definitions by name, used instead of importing @xmppkit/<name> (tests, embedding apps). */
  registry?: Record<string, AnyModuleDefinition>;
  logger?: Logger;
  sourceMap?: SourceMap;
  /** Resolve `start()` only when the link is up (default true). */
  waitOnline?: boolean;
  /** Abort start-up (a signal before it finished): what was set up is stopped, and the promise rejects with GatewayAbortedError. */
  signal?: AbortSignal;
}

/** Start-up was aborted (SIGTERM before the gateway was up); everything set up so far was stopped cleanly. */
export class GatewayAbortedError extends Error {
  override name = "GatewayAbortedError";
  constructor() {
    super("stopped before start-up finished");
  }
}

export interface LoadedModule {
  name: string;
  definition: AnyModuleDefinition;
  options: unknown;
  requires: ModuleRequirements;
  handle: unknown;
}

export interface Gateway {
  readonly config: GatewayConfig;
  readonly kit: Kit;
  readonly http: HttpServer;
  readonly store: Store | undefined;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly events: EventBus;
  readonly modules: ReadonlyMap<string, LoadedModule>;
  /** Graceful shutdown: stop accepting HTTP, let modules finish, flush storage, close the stream. */
  stop(): Promise<void>;
}

/** Import the enabled modules, validate their options and requirements, and order them; nothing connects. */
export async function prepareModules(config: GatewayConfig, options: Pick<GatewayOptions, "registry" | "sourceMap"> = {}) {
  const defs = await resolveModules(config.modules_enabled, options.registry);
  const prepared: { def: AnyModuleDefinition; options: unknown; requires: ModuleRequirements }[] = [];
  const issues: ConfigError["issues"] = [];
  for (const def of defs) {
    try {
      const opts = parseModuleOptions(def, config.moduleSections[def.name] ?? {});
      prepared.push({ def, options: opts, requires: moduleRequirements(def, opts) });
    } catch (err) {
      if (!ConfigError.isInstance(err)) throw err;
      issues.push(...err.issues);
    }
  }
  if (issues.length) {
    const err = new ConfigError("invalid module options", issues);
    throw options.sourceMap ? locatedError(err.issues, options.sourceMap) : err;
  }
  const order = orderModules(prepared.map((p) => ({ def: p.def, requires: p.requires.modules ?? [] })));
  return order.map((def) => prepared.find((p) => p.def === def)!);
}

async function createComponent(config: GatewayConfig): Promise<XmppEntity> {
  const { component } = (await import("@xmpp/component")) as unknown as {
    component(o: { service: string; domain: string; password: string }): XmppEntity;
  };
  return component({ service: config.component.service, domain: config.component.domain, password: config.component.secret });
}

/** Start a gateway from a validated config. Rejects on invalid module options or a fatal connection error. */
export async function startGateway(config: GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const log = options.logger ?? createLogger({ level: config.log.level, format: config.log.format, name: "xmppkit-gateway" });
  const signal = options.signal;
  if (signal?.aborted) throw new GatewayAbortedError();
  const prepared = await prepareModules(config, options);
  if (signal?.aborted) throw new GatewayAbortedError();

  const metrics = createMetrics();
  const events = new EventBus((err, event) => log.error({ err, event }, "event listener failed"));
  const entity = await createComponent(config);
  const kit = setupKit(entity, {
    serverDomain: config.server_domain,
    identity: { category: "component", type: "generic", name: "xmppkit gateway" },
    lifecycle: { backoff: { max: config.component.reconnect_max_delay }, maxInboundStanzaBytes: config.component.stanza_size_limit },
    wire: { maxStanzaBytes: config.component.stanza_size_limit - 32 * 1024 },
    ping: { interval: config.component.keepalive_interval, timeout: config.component.keepalive_timeout },
    events,
    logger: log,
    metrics,
  });

  const http = createHttpServer({
    listen: config.http.listen,
    ...(config.http.token ? { token: config.http.token } : {}),
    trustedProxies: config.http.trusted_proxies,
    bodyLimit: config.http.body_limit,
    logger: log,
    events,
  });
  http.app.get("/healthz", async (_req, reply) => {
    const up = kit.lifecycle.online;
    const grants = kit.grants.state === "revoked" ? "revoked" : kit.privilege.permissions(config.server_domain) ? "granted" : "none";
    const ok = up && grants !== "revoked";
    const reason = kit.lifecycle.downReason ?? (grants === "revoked" ? "the server withdrew the XEP-0356 grants" : undefined);
    return reply.status(ok ? 200 : 503).send({ status: ok ? "ok" : "unavailable", link: up ? "up" : "down", grants, component: config.component.domain, ...(reason ? { reason } : {}) });
  });
  http.app.get("/metrics", { preHandler: http.requireToken }, async (_req, reply) => {
    return reply.header("content-type", metrics.contentType).send(await metrics.text());
  });

  let store: Store | undefined;
  // Connection events, logged the way an operator reads them.
  const link = kit.lifecycle;
  link.on("online", ({ jid, reconnected }) => log.info({ jid, service: config.component.service }, reconnected ? "reconnected to the server" : "connected to the server"));
  link.on("link-lost", ({ reason }) => {
    if (!stopped) log.warn({ reason }, "link to the server lost");
  });
  link.on("reconnecting", ({ attempt, delayMs, reason }) => {
    if (!stopped) log.info({ attempt, delayMs, reason }, `reconnecting in ${Math.round(delayMs / 100) / 10} s (${reason})`);
  });
  entity.on("error", (err: Error) => log.debug({ err: err.message }, "connection error"));
  kit.delegation.on("delegated", ({ server, namespaces }) => log.info({ server, namespaces }, "XEP-0355 namespaces delegated"));

  /** After each connect: what the server is, and what it did not grant that the enabled modules need. */
  const grantNeeds = prepared.map((p) => ({ module: p.def.name, requires: p.requires }));
  const checkGrants = () => reportGrants({ kit, log }, { server: config.server_domain, component: config.component.domain, needs: grantNeeds }).catch((err: unknown) => log.error({ err }, "checking the server's grants failed"));
  let firstOnline = true;
  link.on("online", () => {
    if (firstOnline) return; // the first one is checked (and awaited) by start-up below
    void checkGrants();
  });

  let stopped = false;
  let stopping: Promise<void> | undefined;
  const stops: (() => void | Promise<void>)[] = [];
  const modules = new Map<string, LoadedModule>();
  async function stop() {
    stopping ??= shutdown();
    return stopping;
  }

  /** The order matters: no new work, no reconnects, the modules' goodbyes, then storage and the stream. */
  async function shutdown() {
    stopped = true;
    link.endReconnects();
    log.info("shutting down");
    await http.close().catch((err: unknown) => log.error({ err }, "closing HTTP failed"));
    for (const fn of stops.reverse()) await Promise.resolve(fn()).catch((err: unknown) => log.error({ err }, "module stop failed"));
    await store?.close().catch((err: unknown) => log.error({ err }, "closing storage failed"));
    kit.ping.stop();
    await link.stop().catch((err: unknown) => log.error({ err }, "closing the stream failed"));
    log.info("stopped");
  }

  // An abort during start-up ends a pending connection attempt at once; the rest stops in the catch below.
  const onAbort = () => void link.stop();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    if (prepared.some((p) => p.requires.store)) {
      store = await openStore({
        ...(config.storage.sqlite ? { sqlite: config.storage.sqlite } : {}),
        ...(config.storage.postgres ? { postgres: config.storage.postgres } : {}),
        dataDir: config.storage.data_dir,
      });
      log.info({ store: config.storage.postgres ? "postgres" : (config.storage.sqlite ?? join(config.storage.data_dir, "xmppkit.sqlite")) }, "storage opened");
    }
    for (const p of prepared) {
      if (signal?.aborted) throw new GatewayAbortedError();
      const name = p.def.name;
      const ctx: ModuleContext = {
        name,
        kit,
        log: log.child({ module: name }),
        events: events.forModule(name),
        metrics,
        http: p.requires.http ? http : undefined,
        store: p.requires.store ? store : undefined,
        module<H>(other: string) {
          const m = modules.get(other);
          if (!m) throw new Error(`module "${name}" asked for module "${other}", which is not loaded before it (declare it in requires.modules)`);
          return m.handle as H;
        },
        onStop: (fn) => void stops.push(fn),
      };
      const handle = await p.def.setup(ctx, p.options);
      modules.set(name, { name, definition: p.def, options: p.options, requires: p.requires, handle });
    }
    log.info({ modules: [...modules.keys()] }, modules.size ? "modules loaded" : "no modules enabled");

    // The gateway's own seats in MUC rooms (config validation made sure track-muc-joins is loaded).
    const joins = config.rooms.length ? (modules.get("track-muc-joins")?.handle as MucJoins | undefined) : undefined;
    for (const r of config.rooms) joins?.keep(r.room, { nick: r.nick, password: r.password, from: config.component.domain });

    if (signal?.aborted) throw new GatewayAbortedError();
    await http.start();
    log.info({ url: http.url }, "HTTP listening");
    if (signal?.aborted) throw new GatewayAbortedError();
    const started = link.start();
    if (options.waitOnline === false) {
      started.then(() => ((firstOnline = false), checkGrants()), () => undefined);
    } else {
      await started;
      firstOnline = false;
      await checkGrants();
    }
  } catch (err) {
    await stop();
    throw signal?.aborted ? new GatewayAbortedError() : err;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }

  return { config, kit, http, store, log, metrics, events, modules, stop };
}

