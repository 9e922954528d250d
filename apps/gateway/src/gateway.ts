// Composition only: build the component, wire core, load the enabled modules, serve HTTP, and shut down in
// order. Everything protocol-related lives in @xmppkit/core and the feature packages; the implementations of
// logs, metrics, HTTP and storage in @xmppkit/runtime.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import {
  XmppkitError,
  ConfigError,
  EventBus,
  moduleRefName,
  moduleRequirements,
  parseModuleOptions,
  setupKit,
  sleep,
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
  openStoreWhenReachable,
  sqliteFile,
  storeHealth,
  type PrometheusMetrics,
  type RunningHttpServer,
  type StoreOptions,
  type StoreWatchOptions,
} from "@xmppkit/runtime";
import { locatedError, type GatewayConfig, type SourceMap } from "./config.js";
import type {} from "./events.js"; // the bus events the gateway emits
import { watchGrants, type GrantWatch } from "./grant-watch.js";
import { haRole, notServingReason, takeLease, type HaRole } from "./ha.js";
import { dependencies, orderModules, resolveModules } from "./modules.js";
import type { Shared } from "./shared.js";
import { createShutdown } from "./shutdown.js";

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
  /**
   * Called once HTTP listens (/healthz answers), before the store, the lease and the link: the process is up
   * and says what it is doing (e.g. systemd's READY=1; a standby may wait for the lease for a long time).
   */
  onServing?: () => void;
}

/** Start-up was aborted (SIGTERM before the gateway was up); everything set up so far was stopped cleanly. */
export class GatewayAbortedError extends XmppkitError {
  static override readonly brand = "GatewayAbortedError";
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
function gatewayRoutes(http: RunningHttpServer, kit: Kit, metrics: PrometheusMetrics, config: GatewayConfig, ha: Pick<HaRole, "role" | "error">): void {
  http.route({
    method: "GET",
    path: "/healthz",
    auth: false,
    handler: () => {
      if (ha.role !== "active") {
        // Waiting for the store, or for the lease: what it waits for, and never a guess about who holds it.
        const { status, reason } = notServingReason(ha, config.component.domain);
        return {
          status: 503,
          headers: { "retry-after": "5" },
          body: { status, state: ha.role, link: "down", component: config.component.domain, instance: instanceName(), reason },
        };
      }
      const up = kit.lifecycle.online;
      const grants = kit.grants.state === "revoked" ? "revoked" : kit.privilege.permissions(config.server_domain) ? "granted" : "none";
      // SQLite's file, watched while open: gone, replaced or unwritable is a 503 that names it.
      const store = storeHealth(storeOptions(config));
      const ok = up && grants !== "revoked" && (!store || store.state === "ok");
      const linkReason = kit.lifecycle.downReason ?? (grants === "revoked" ? "the server withdrew the XEP-0356 grants" : undefined);
      const reason = [store?.reason, linkReason].filter(Boolean).join("; ") || undefined;
      return {
        status: ok ? 200 : 503,
        body: {
          status: ok ? "ok" : "unavailable",
          link: up ? "up" : "down",
          grants,
          ...(store ? { store: store.state } : {}),
          component: config.component.domain,
          ...(reason ? { reason } : {}),
        },
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

/**
 * With SQLite, one process per database file, by whatever name (a symlink, a hard link): a second one refuses
 * to start (LockedError). A file with more than one name is said: SQLite keeps its journal by name.
 */
function lockSqlite(config: GatewayConfig, log: Logger): { release(): void } | undefined {
  if (config.storage.postgres) return undefined;
  const file = sqliteFile(storeOptions(config));
  if (file === ":memory:") return undefined;
  mkdirSync(dirname(file), { recursive: true });
  const lock = fileLock(file);
  if (lock.links > 1)
    log.warn(
      { store: lock.file, links: lock.links },
      `the SQLite file has ${lock.links} names (hard links): a process opening it by another name keeps its own journal beside that name and can corrupt it; remove the other links`,
    );
  return lock;
}

/** Metrics, the event bus, core's kit on a fresh component, and the HTTP server (not listening yet). */
async function createShared(config: GatewayConfig, log: Logger): Promise<Shared> {
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
  return { kit, log, events, metrics, http, store: undefined, modules: new Map(), stops: [] };
}

/** Start a gateway from a validated config. Rejects on invalid module options or a fatal connection error. */
export async function startGateway(config: GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const log: Logger = options.logger ?? createLogger({ level: config.log.level, format: config.log.format, name: "xmppkit-gateway" });
  const signal = options.signal;
  if (signal?.aborted) throw new GatewayAbortedError();
  const prepared = await prepareModules(config, options);
  if (signal?.aborted) throw new GatewayAbortedError();

  const shared = await createShared(config, log);
  const ha = haRole(shared.metrics, config);
  gatewayRoutes(shared.http, shared.kit, shared.metrics, config, ha);
  const shutdown = createShutdown(shared);
  // Ends whatever waits (the store, the lease) when the gateway stops, during start-up or long after it.
  const stopping = new AbortController();
  const running = signal ? AbortSignal.any([signal, stopping.signal]) : stopping.signal;
  const stop = () => {
    stopping.abort(new GatewayAbortedError());
    return shutdown.stop();
  };
  logLink(shared.kit, log, config, () => shutdown.stopped);
  const grants = watchGrants(shared, config, prepared);

  // An abort during start-up ends a pending connection attempt at once; the rest stops in the catch below.
  const onAbort = () => void shared.kit.lifecycle.stop();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await bringUp(shared, config, prepared, { signal: running, waitOnline: options.waitOnline, ha, grants, onServing: options.onServing });
  } catch (err) {
    await shutdown.stop();
    throw signal?.aborted ? new GatewayAbortedError() : err;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  return gatewayHandle(config, shared, stop);
}

interface BringUpOptions {
  /** Aborted by a signal during start-up, and by stop() afterwards. */
  signal: AbortSignal | undefined;
  waitOnline: boolean | undefined;
  ha: HaRole;
  grants: GrantWatch;
  onServing: (() => void) | undefined;
}

/** Wait as a standby until this process holds the lease; then it is active. A lost lease starts this over. */
async function holdLease(s: Shared, config: GatewayConfig, o: BringUpOptions): Promise<void> {
  s.lease = await takeLease({ log: s.log, events: s.events }, config, o.signal, { ha: o.ha, onLost: () => void regainLease(s, config, o) });
  o.ha.active();
}

/**
 * The lease is lost (PostgreSQL unreachable, or it ended the session): close the link at once, since another
 * instance may hold the lease now, and wait as a standby again, with everything else still running; the
 * link comes back once this process holds the lease again.
 */
async function regainLease(s: Shared, config: GatewayConfig, o: BringUpOptions): Promise<void> {
  s.lease = undefined;
  o.ha.unreachable("the lease was lost");
  await s.kit.lifecycle.stop().catch((err: unknown) => s.log.error({ err }, "closing the stream failed"));
  try {
    // The standby, which has been asking all along, goes first: two poll intervals before asking again.
    await sleep(2 * config.ha.poll_interval, o.signal);
    await holdLease(s, config, o);
    await s.kit.lifecycle.start();
  } catch (err) {
    if (o.signal?.aborted) return; // stopping
    s.log.error({ err }, "could not take the link back after the lease was lost");
  }
}

/** The store, waited for while PostgreSQL cannot be reached (said once per distinct error, and on /healthz). */
async function openSharedStore(s: Shared, config: GatewayConfig, { signal, ha }: Pick<BringUpOptions, "signal" | "ha">): Promise<void> {
  s.storeLock = lockSqlite(config, s.log);
  let said: string | undefined;
  // SQLite: its file is watched (gone, replaced, unwritable), which /healthz says and the log tells once.
  const watch: StoreWatchOptions = {
    onChange(health) {
      if (health.state === "ok") s.log.info({ store: sqliteFile(storeOptions(config)) }, "storage: the SQLite file is fine again");
      else s.log.error({ store: sqliteFile(storeOptions(config)), state: health.state }, `storage: ${health.reason}`);
    },
  };
  const options: StoreOptions = { ...storeOptions(config), watch };
  s.store = await openStoreWhenReachable(options, {
    signal,
    onWaiting(error) {
      ha.waitingForStore(error);
      if (error !== said) s.log.warn({ err: error }, "waiting for PostgreSQL: it cannot be reached; retrying");
      said = error;
    },
  });
  if (said) s.log.info("PostgreSQL is reachable again");
  ha.storeOpen();
  s.log.info({ store: config.storage.postgres ? "postgres" : sqliteFile(storeOptions(config)) }, "storage opened");
}

/**
 * Start-up, in order: HTTP (so that /healthz says what the gateway waits for), storage (waited for), the
 * modules (in dependency order), the lease (with `ha`), then the link. Checks for an abort between the
 * steps; the caller stops what was set up.
 */
async function bringUp(s: Shared, config: GatewayConfig, prepared: PreparedModule[], o: BringUpOptions): Promise<void> {
  const aborted = () => {
    if (o.signal?.aborted) throw new GatewayAbortedError();
  };
  // Until the modules have added their routes, their paths answer 503 "starting", not 404.
  s.http.starting("the gateway is starting: its modules are not loaded yet");
  await s.http.start();
  s.log.info({ url: s.http.url }, "HTTP listening");
  o.onServing?.();
  aborted();
  if (prepared.some((p) => p.requires.store)) await openSharedStore(s, config, o);
  for (const p of prepared) {
    aborted();
    const handle = await p.definition.setup(moduleContext(p, s), p.options);
    s.modules.set(p.definition.name, { ...p, name: p.definition.name, handle });
  }
  s.log.info({ modules: [...s.modules.keys()] }, s.modules.size ? "modules loaded" : "no modules enabled");
  s.http.starting(undefined);
  aborted();
  if (config.ha.enabled) await holdLease(s, config, o);
  aborted();
  const started = s.kit.lifecycle.start();
  if (o.waitOnline === false) {
    started.then(
      () => o.grants.first(),
      () => undefined,
    );
  } else {
    await started;
    await o.grants.first();
  }
}

/** What startGateway resolves with: the running gateway's parts, its modules' handles, and stop(). */
function gatewayHandle(config: GatewayConfig, shared: Shared, stop: () => Promise<void>): Gateway {
  const { kit, http, log, metrics, events, modules } = shared;
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
