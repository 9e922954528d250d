// Composition only: build the component, wire core, load the enabled modules, serve HTTP, and shut down in
// order. Everything protocol-related lives in @xmppkit/core and the feature packages; the implementations of
// logs, metrics, HTTP and storage in @xmppkit/runtime.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import {
  ConfigError,
  EventBus,
  moduleRefName,
  moduleRequirements,
  parseModuleOptions,
  setupKit,
  type AnyModuleDefinition,
  type HandleOf,
  type Kit,
  type Logger,
  type ModuleContext,
  type ModuleRequirements,
  type Store,
  type XmppEntity,
} from "@xmppkit/core";
import {
  createHttpServer,
  createLogger,
  createMetrics,
  fileLock,
  instanceName,
  openStore,
  postgresLease,
  sqliteFile,
  type Lease,
  type PrometheusMetrics,
  type RunningHttpServer,
  type StoreOptions,
} from "@xmppkit/runtime";
import { locatedError, type GatewayConfig, type SourceMap } from "./config.js";
import type {} from "./events.js"; // the bus events the gateway emits
import { reportGrants } from "./grants.js";
import { dependencies, orderModules, resolveModules } from "./modules.js";

declare const __XMPPKIT_GATEWAY_VERSION__: string | undefined;
/** The package version, injected by the build (tsup `define`); "0.0.0-dev" when run from source. */
export const GATEWAY_VERSION = typeof __XMPPKIT_GATEWAY_VERSION__ === "string" ? __XMPPKIT_GATEWAY_VERSION__ : "0.0.0-dev";

export interface GatewayOptions {
  /** Module definitions by modules_enabled entry, used instead of importing packages (tests, embedding apps). */
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

/** An enabled module, validated and ordered, not set up yet. */
export interface PreparedModule {
  /** The modules_enabled entry (and config section). */
  entry: string;
  definition: AnyModuleDefinition;
  options: unknown;
  requires: ModuleRequirements;
}

export interface LoadedModule extends PreparedModule {
  name: string;
  handle: unknown;
}

export interface Gateway {
  readonly config: GatewayConfig;
  readonly kit: Kit;
  readonly http: RunningHttpServer;
  readonly store: Store | undefined;
  readonly log: Logger;
  readonly metrics: PrometheusMetrics;
  readonly events: EventBus;
  /** The loaded modules by name. */
  readonly modules: ReadonlyMap<string, LoadedModule>;
  /** A loaded module's handle, typed by its definition; undefined when it is not enabled. */
  module<D extends AnyModuleDefinition>(definition: D): HandleOf<D> | undefined;
  /** Graceful shutdown: stop accepting HTTP, let modules finish, flush storage, close the stream. */
  stop(): Promise<void>;
}

/** Import the enabled modules, validate their options and requirements, and order them; nothing connects. */
export async function prepareModules(config: GatewayConfig, options: Pick<GatewayOptions, "registry" | "sourceMap"> = {}): Promise<PreparedModule[]> {
  const resolved = await resolveModules(config.modules_enabled, options.registry);
  const prepared: PreparedModule[] = [];
  const issues: ConfigError["issues"] = [];
  for (const { entry, def } of resolved) {
    try {
      const opts = parseModuleOptions(def, config.moduleSections[entry] ?? {}, entry);
      prepared.push({ entry, definition: def, options: opts, requires: moduleRequirements(def, opts) });
    } catch (err) {
      if (!ConfigError.isInstance(err)) throw err;
      issues.push(...err.issues);
    }
  }
  if (issues.length) {
    const err = new ConfigError("invalid module options", issues);
    throw options.sourceMap ? locatedError(err.issues, options.sourceMap) : err;
  }
  const enabled = new Set(prepared.map((p) => p.definition.name));
  const withDeps = prepared.map((p) => {
    const { required, optional } = dependencies(p.requires, enabled);
    return { def: p.definition, requires: [...required, ...optional], prepared: p };
  });
  return orderModules(withDeps).map((d) => d.prepared);
}

/** What the config's `storage:` section opens. */
export function storeOptions(config: Pick<GatewayConfig, "storage">): StoreOptions {
  return {
    ...(config.storage.sqlite ? { sqlite: config.storage.sqlite } : {}),
    ...(config.storage.postgres ? { postgres: config.storage.postgres } : {}),
    dataDir: config.storage.data_dir,
  };
}

async function createComponent(config: GatewayConfig): Promise<XmppEntity> {
  const { component } = await import("@xmpp/component");
  return component({ service: config.component.service, domain: config.component.domain, password: config.component.secret });
}

function createKit(entity: XmppEntity, config: GatewayConfig, deps: { events: EventBus; log: Logger; metrics: PrometheusMetrics }): Kit {
  return setupKit(entity, {
    serverDomain: config.server_domain,
    identity: { category: "component", type: "generic", name: "xmppkit gateway" },
    lifecycle: { backoff: { max: config.component.reconnect_max_delay }, maxInboundStanzaBytes: config.component.stanza_size_limit },
    wire: { maxStanzaBytes: config.component.stanza_size_limit - 32 * 1024 },
    ping: { interval: config.component.keepalive_interval, timeout: config.component.keepalive_timeout },
    events: deps.events,
    logger: deps.log,
    metrics: deps.metrics,
  });
}

/** The gateway's own routes: /healthz for probes (no token), /metrics for Prometheus. */
function gatewayRoutes(http: RunningHttpServer, kit: Kit, metrics: PrometheusMetrics, config: GatewayConfig, role: () => Role): void {
  http.route({
    method: "GET",
    path: "/healthz",
    auth: false,
    handler: () => {
      if (role() !== "active") {
        // Until PostgreSQL has answered, this instance does not know who holds the lease.
        const reason = role() === "asking" ? "standby: asking PostgreSQL for the lease" : `standby: another instance holds ${config.component.domain}`;
        return {
          status: 503,
          headers: { "retry-after": "5" },
          body: { status: "standby", link: "down", component: config.component.domain, instance: instanceName(), reason },
        };
      }
      const up = kit.lifecycle.online;
      const grants = kit.grants.state === "revoked" ? "revoked" : kit.privilege.permissions(config.server_domain) ? "granted" : "none";
      const ok = up && grants !== "revoked";
      const reason = kit.lifecycle.downReason ?? (grants === "revoked" ? "the server withdrew the XEP-0356 grants" : undefined);
      return {
        status: ok ? 200 : 503,
        body: { status: ok ? "ok" : "unavailable", link: up ? "up" : "down", grants, component: config.component.domain, ...(reason ? { reason } : {}) },
      };
    },
  });
  http.route({ method: "GET", path: "/metrics", handler: async () => ({ headers: { "content-type": metrics.contentType }, body: await metrics.text() }) });
}

/** Connection events, logged the way an operator reads them (nothing once stopping). */
function logLink(kit: Kit, log: Logger, config: GatewayConfig, stopping: () => boolean): void {
  const link = kit.lifecycle;
  link.on("online", ({ jid, reconnected }) =>
    log.info({ jid, service: config.component.service }, reconnected ? "reconnected to the server" : "connected to the server"),
  );
  link.on("link-lost", ({ reason }) => {
    if (!stopping()) log.warn({ reason }, "link to the server lost");
  });
  link.on("reconnecting", ({ attempt, delayMs, reason }) => {
    if (!stopping()) log.info({ attempt, delayMs, reason }, `reconnecting in ${Math.round(delayMs / 100) / 10} s (${reason})`);
  });
  kit.entity.on("error", (err: Error) => log.debug({ err: err.message }, "connection error"));
  kit.delegation.on("delegated", ({ server, namespaces }) => log.info({ server, namespaces }, "XEP-0355 namespaces delegated"));
}

interface Shared {
  kit: Kit;
  log: Logger;
  events: EventBus;
  metrics: PrometheusMetrics;
  http: RunningHttpServer;
  store: Store | undefined;
  modules: Map<string, LoadedModule>;
  stops: (() => void | Promise<void>)[];
}

/** A module's context: the shared handles it declared, and the handles of the modules it declared. */
function moduleContext(p: PreparedModule, s: Shared): ModuleContext {
  const name = p.definition.name;
  const declared = (list: ModuleRequirements["modules"]) => new Set((list ?? []).map(moduleRefName));
  const required = declared(p.requires.modules);
  const optional = declared(p.requires.optionalModules);
  return {
    name,
    kit: s.kit,
    log: s.log.child({ module: name }),
    events: s.events.forModule(name),
    metrics: s.metrics,
    http: p.requires.http ? s.http : undefined,
    store: p.requires.store ? s.store : undefined,
    module(def) {
      const m = s.modules.get(def.name);
      if (!required.has(def.name) || !m) throw new Error(`module "${name}" asked for module "${def.name}", which it does not declare in requires.modules`);
      return m.handle as HandleOf<typeof def>;
    },
    optionalModule(def) {
      if (!optional.has(def.name) && !required.has(def.name))
        throw new Error(`module "${name}" asked for module "${def.name}", which it does not declare in requires.optionalModules`);
      return s.modules.get(def.name)?.handle as HandleOf<typeof def> | undefined;
    },
    onStop: (fn) => void s.stops.push(fn),
  };
}

/** active: holds the link; standby: another instance holds the lease; asking: PostgreSQL has not answered yet. */
type Role = "active" | "standby" | "asking";

/** With SQLite, one process per database file: a second one refuses to start (LockedError). */
function lockSqlite(config: GatewayConfig): { release(): void } | undefined {
  if (config.storage.postgres) return undefined;
  const file = sqliteFile(storeOptions(config));
  if (file === ":memory:") return undefined;
  mkdirSync(dirname(file), { recursive: true });
  return fileLock(`${file}.lock`);
}

/**
 * Active/standby: wait as a standby until this process holds the PostgreSQL lease for the component's
 * domain. A holder that loses it (PostgreSQL unreachable, its session ended) stops at once: another may
 * hold the lease and open the link next.
 */
async function takeLease(
  { log, events }: { log: Logger; events: EventBus },
  config: GatewayConfig,
  signal: AbortSignal | undefined,
  { stop, onStandby }: { stop: () => Promise<void>; onStandby: () => void },
): Promise<Lease> {
  const instance = instanceName();
  let last: string | undefined; // said once, until it changes
  const lease = postgresLease({
    url: config.storage.postgres!,
    name: config.component.domain,
    pollMs: config.ha.poll_interval,
    onWaiting: ({ error }) => {
      if (!error) onStandby();
      if ((error ?? "held") === last) return;
      last = error ?? "held";
      if (error) log.warn({ instance, err: error }, "standby: cannot ask PostgreSQL for the lease; retrying");
      else log.info({ instance, component: config.component.domain }, `standby: another instance holds ${config.component.domain}; waiting for the lease`);
    },
  });
  const { waited } = await lease.acquire(signal);
  lease.onLost((reason) => {
    log.fatal({ instance, reason }, "lost the lease: closing the link so that another instance can take over");
    events.emit("gateway-lease-lost", { instance, component: config.component.domain, reason }, "gateway");
    void stop().finally(() => (process.exitCode ??= 1));
  });
  log.info({ instance, component: config.component.domain, waited }, waited ? "took over: this instance holds the lease now" : "holding the lease");
  if (waited) events.emit("gateway-takeover", { instance, component: config.component.domain }, "gateway");
  return lease;
}

/** Start a gateway from a validated config. Rejects on invalid module options or a fatal connection error. */
export async function startGateway(config: GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const log: Logger = options.logger ?? createLogger({ level: config.log.level, format: config.log.format, name: "xmppkit-gateway" });
  const signal = options.signal;
  if (signal?.aborted) throw new GatewayAbortedError();
  const prepared = await prepareModules(config, options);
  if (signal?.aborted) throw new GatewayAbortedError();

  const metrics = createMetrics();
  const events = new EventBus((err, event) => log.error({ err, event }, "event listener failed"));
  const kit = createKit(await createComponent(config), config, { events, log, metrics });
  const http = createHttpServer({
    listen: config.http.listen,
    ...(config.http.token ? { token: config.http.token } : {}),
    trustedProxies: config.http.trusted_proxies,
    bodyLimit: config.http.body_limit,
    logger: log,
    events,
  });
  let role: Role = config.ha.enabled ? "asking" : "active";
  const roleGauge = metrics.gauge("gateway", "ha_active", "1 when this instance holds the lease and opens the link, 0 on a standby");
  roleGauge.set(role === "active" ? 1 : 0);
  gatewayRoutes(http, kit, metrics, config, () => role);
  const shared: Shared = { kit, log, events, metrics, http, store: undefined, modules: new Map(), stops: [] };
  let lease: Lease | undefined;
  let storeLock: { release(): void } | undefined;
  const link = kit.lifecycle;
  let stopped = false;
  logLink(kit, log, config, () => stopped);

  /** After each connect: what the server is, and what it did not grant that the enabled modules need. */
  const grantNeeds = prepared.map((p) => ({ module: p.definition.name, requires: p.requires }));
  const checkGrants = () =>
    reportGrants({ kit, log }, { server: config.server_domain, component: config.component.domain, needs: grantNeeds }).catch((err: unknown) =>
      log.error({ err }, "checking the server's grants failed"),
    );
  let firstOnline = true;
  link.on("online", () => {
    if (firstOnline) return; // the first one is checked (and awaited) by start-up below
    void checkGrants();
  });

  let stopping: Promise<void> | undefined;
  const stop = async () => (stopping ??= shutdown());

  /** The order matters: no new work, no reconnects, the modules' goodbyes, then storage and the stream. */
  async function shutdown() {
    stopped = true;
    link.endReconnects();
    log.info("shutting down");
    await http.close().catch((err: unknown) => log.error({ err }, "closing HTTP failed"));
    for (const fn of shared.stops.reverse()) await Promise.resolve(fn()).catch((err: unknown) => log.error({ err }, "module stop failed"));
    await shared.store?.close().catch((err: unknown) => log.error({ err }, "closing storage failed"));
    storeLock?.release();
    kit.ping.stop();
    await link.stop().catch((err: unknown) => log.error({ err }, "closing the stream failed"));
    // After the link is closed: a standby may open its own at once.
    await lease?.release().catch((err: unknown) => log.error({ err }, "releasing the lease failed"));
    log.info("stopped");
  }

  // An abort during start-up ends a pending connection attempt at once; the rest stops in the catch below.
  const onAbort = () => void link.stop();
  signal?.addEventListener("abort", onAbort, { once: true });
  const aborted = () => {
    if (signal?.aborted) throw new GatewayAbortedError();
  };
  try {
    if (prepared.some((p) => p.requires.store)) {
      storeLock = lockSqlite(config);
      shared.store = await openStore(storeOptions(config));
      log.info({ store: config.storage.postgres ? "postgres" : sqliteFile(storeOptions(config)) }, "storage opened");
    }
    for (const p of prepared) {
      aborted();
      const handle = await p.definition.setup(moduleContext(p, shared), p.options);
      shared.modules.set(p.definition.name, { ...p, name: p.definition.name, handle });
    }
    log.info({ modules: [...shared.modules.keys()] }, shared.modules.size ? "modules loaded" : "no modules enabled");
    aborted();
    await http.start();
    log.info({ url: http.url }, "HTTP listening");
    aborted();
    if (config.ha.enabled) {
      lease = await takeLease({ log, events }, config, signal, { stop: () => stop(), onStandby: () => (role = "standby") });
      role = "active";
      roleGauge.set(1);
    }
    aborted();
    const started = link.start();
    if (options.waitOnline === false) {
      started.then(
        () => {
          firstOnline = false;
          return checkGrants();
        },
        () => undefined,
      );
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

  const modules = shared.modules;
  return {
    config,
    kit,
    http,
    get store() {
      return shared.store;
    },
    log,
    metrics,
    events,
    modules,
    module: <D extends AnyModuleDefinition>(def: D) => modules.get(def.name)?.handle as HandleOf<D> | undefined,
    stop,
  };
}
