// A gateway module's unit test without the gateway: the ModuleContext the gateway would give it, built on a
// mock component. A captured logger, @xmppkit/runtime's metrics and (unstarted) HTTP server, an event bus,
// the modules it requires set up through the same harness, and its onStop hooks run by stop().
//
//   const h = await moduleHarness(gatewayModule, { core: { setupKit, EventBus }, runtime: { createMetrics, createHttpServer } });
//   const handle = await h.setup(pingMucSchema.parse({ ping_muc_delay: 5 }));
//   expect(await h.metrics.text()).toContain("xmppkit_ping_muc_self_pings_total");
//   await h.stop();
//
// This package cannot depend on @xmppkit/core or @xmppkit/runtime (they are tested with it): the test passes
// the few functions the context is made of, and the types come from them and from the module's definition.
import { captureLogger, type CapturingLogger, type LogLine } from "./capture-logger.js";
import { mockComponent, type MockEntity } from "./mock-entity.js";

/** What the harness reads of a module definition (`defineModule()`'s result). */
export interface HarnessModule {
  readonly name: string;
  readonly requires?: unknown;
  setup(ctx: never, options: never): unknown;
}

/** The ModuleContext the module's setup takes. */
export type ContextOf<D extends HarnessModule> = Parameters<D["setup"]>[0];
/** The options its setup takes (the schema's output). */
export type OptionsOf<D extends HarnessModule> = Parameters<D["setup"]>[1];
/** The handle its setup returns. */
export type HandleOfModule<D extends HarnessModule> = Awaited<ReturnType<D["setup"]>>;
type EntityOf<D extends HarnessModule> = ContextOf<D> extends { readonly kit: { readonly entity: infer E } } ? E : never;
type StoreOf<D extends HarnessModule> = NonNullable<ContextOf<D> extends { readonly store: infer S } ? S : never>;

/** Another module for `module()` / `optionalModule()`, with its (parsed) options. */
export interface HarnessDependency {
  definition: HarnessModule;
  options: unknown;
}

/** An event bus like @xmppkit/core's. */
export interface HarnessBus {
  forModule(module: string): unknown;
}

export interface ModuleHarnessOptions<B extends HarnessBus, M, H, S> {
  /** From @xmppkit/core. */
  core: {
    setupKit(entity: never, options: never): unknown;
    EventBus: new (onListenerError: (err: unknown, event: string) => void) => B;
  };
  /** From @xmppkit/runtime. */
  runtime: {
    createMetrics(): M;
    createHttpServer(options: never): H;
  };
  /** The kit's server domain (default: setupKit's, the component domain's parent). */
  serverDomain?: string;
  /** The mock component's domain (default: mockComponent's). */
  domain?: string;
  /** More setupKit options (default adds `ping: { interval: 0 }`: no keepalive pings in unit tests). */
  kit?: Record<string, unknown>;
  /** Modules set up before this one, in order, for its `ctx.module()` and `ctx.optionalModule()`. */
  modules?: readonly HarnessDependency[];
  /** The store, for a module that requires one (closed by stop()). */
  store?: S;
}

export interface ModuleHarness<D extends HarnessModule, B, M, H> {
  /** The module's context (after setup()). */
  readonly ctx: ContextOf<D>;
  readonly mock: MockEntity<EntityOf<D>>;
  readonly events: B;
  readonly metrics: M;
  /** The HTTP server (not listening: use its inject()). */
  readonly http: H;
  /** The logger everything logs through (kit and modules; a module's lines carry `module`). */
  readonly logger: CapturingLogger;
  /** Every line logged so far. */
  lines(): LogLine[];
  /** The first line (logged so far or to come) that matches; rejects after `timeoutMs` (default 2000; fake time under fake timers). */
  line(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Set up the modules in `modules`, then this one, as the gateway does; resolves with its handle. */
  setup(options: OptionsOf<D>): Promise<HandleOfModule<D>>;
  /** The handle of a module set up through this harness (this one or one in `modules`). */
  module<X extends HarnessModule>(definition: X): HandleOfModule<X>;
  /** The link comes up (the kit's `online`, as after the handshake). */
  online(): void;
  /** Run the onStop hooks (last registered first), then close the HTTP server and the store. */
  stop(): Promise<void>;
}

interface Requirements {
  modules?: readonly (string | { name: string })[];
  optionalModules?: readonly (string | { name: string })[];
  http?: boolean;
  store?: boolean;
}

function requirementsOf(def: HarnessModule, options: unknown): Requirements {
  const r = def.requires;
  return ((typeof r === "function" ? r(options) : r) ?? {}) as Requirements;
}

const names = (refs: Requirements["modules"]) => new Set((refs ?? []).map((r) => (typeof r === "string" ? r : r.name)));

/** A logger that tells `after` about every line (to resolve `line()` waiters). */
function notifying(logger: CapturingLogger, after: () => void): CapturingLogger {
  const levels = ["trace", "debug", "info", "warn", "error", "fatal"] as const;
  const out = { child: (bindings: Record<string, unknown>) => notifying(logger.child(bindings), after) } as CapturingLogger;
  for (const level of levels) {
    out[level] = ((...args: [object, string?]) => {
      logger[level](...args);
      after();
    }) as CapturingLogger[typeof level];
  }
  return out;
}

/** What every context of a harness is made of: the mock, the logger (and its `line()` waiters), the bus, metrics, HTTP server and kit. */
interface HarnessEnv<E, B, M, H> {
  readonly mock: MockEntity<E>;
  readonly captured: ReturnType<typeof captureLogger>;
  readonly waiters: Set<() => void>;
  readonly logger: CapturingLogger;
  readonly events: B;
  readonly metrics: M;
  readonly http: H;
  readonly kit: unknown;
}

/** The handles of the modules set up so far, by name, and their onStop hooks. */
interface HarnessRegistry {
  readonly handles: Map<string, unknown>;
  readonly stops: (() => void | Promise<void>)[];
}

/** The mock component, the logger, the bus, metrics, HTTP server and the kit on them. */
async function harnessEnv<E, B extends HarnessBus, M, H, S>(options: ModuleHarnessOptions<B, M, H, S>): Promise<HarnessEnv<E, B, M, H>> {
  const mock = await mockComponent<E>(options.domain ? { domain: options.domain } : {});
  const captured = captureLogger();
  const waiters = new Set<() => void>();
  const logger = notifying(captured.logger, () => {
    for (const w of [...waiters]) w();
  });
  const events = new options.core.EventBus((err, event) => logger.error({ err, event }, "event listener failed"));
  const metrics = options.runtime.createMetrics();
  const http = options.runtime.createHttpServer({ listen: "127.0.0.1:0", logger, events } as never);
  const kit = options.core.setupKit(
    mock.entity as never,
    {
      ping: { interval: 0 },
      ...options.kit,
      ...(options.serverDomain ? { serverDomain: options.serverDomain } : {}),
      events,
      logger,
      metrics,
    } as never,
  );
  return { mock, captured, waiters, logger, events, metrics, http, kit };
}

/** The ModuleContext of `def` (with options `opts`), as the gateway builds it. */
function moduleContext<E, B extends HarnessBus, M, H>(
  env: HarnessEnv<E, B, M, H>,
  store: unknown,
  registry: HarnessRegistry,
  def: HarnessModule,
  opts: unknown,
) {
  const { handles, stops } = registry;
  const requires = requirementsOf(def, opts);
  const required = names(requires.modules);
  const optional = names(requires.optionalModules);
  return {
    name: def.name,
    kit: env.kit,
    log: env.logger.child({ module: def.name }),
    events: env.events.forModule(def.name),
    metrics: env.metrics,
    http: requires.http ? env.http : undefined,
    store: requires.store ? store : undefined,
    module(other: HarnessModule) {
      if (!required.has(other.name) || !handles.has(other.name))
        throw new Error(
          `module "${def.name}" asked for module "${other.name}", which it does not declare in requires.modules (or the harness did not set it up)`,
        );
      return handles.get(other.name);
    },
    optionalModule(other: HarnessModule) {
      if (!optional.has(other.name) && !required.has(other.name))
        throw new Error(`module "${def.name}" asked for module "${other.name}", which it does not declare in requires.optionalModules`);
      return handles.get(other.name);
    },
    onStop: (fn: () => void | Promise<void>) => void stops.push(fn),
  };
}

/** Set up `def` on its context and keep its handle; resolves with the context. */
async function setupModule<E, B extends HarnessBus, M, H>(
  env: HarnessEnv<E, B, M, H>,
  store: unknown,
  registry: HarnessRegistry,
  def: HarnessModule,
  opts: unknown,
) {
  const c = moduleContext(env, store, registry, def, opts);
  registry.handles.set(def.name, await def.setup(c as never, opts as never));
  return c;
}

/** The first captured line (logged so far or to come) that matches; rejects after `timeoutMs`. */
function waitForLine(
  captured: ReturnType<typeof captureLogger>,
  waiters: Set<() => void>,
  match: (line: LogLine) => boolean,
  timeoutMs: number,
): Promise<LogLine> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const found = captured.lines().find(match);
      if (!found) return false;
      waiters.delete(check);
      clearTimeout(timer);
      resolve(found);
      return true;
    };
    const timer = setTimeout(() => {
      waiters.delete(check);
      const logged = captured.lines().map((l) => JSON.stringify(l));
      reject(new Error(`no matching log line within ${timeoutMs} ms; logged:\n${logged.join("\n")}`));
    }, timeoutMs);
    if (!check()) waiters.add(check);
  });
}

/** A ModuleContext for `definition` on a mock component. */
export async function moduleHarness<D extends HarnessModule, B extends HarnessBus, M, H extends { close(): Promise<void> }, S extends StoreOf<D>>(
  definition: D,
  options: ModuleHarnessOptions<B, M, H, S>,
): Promise<ModuleHarness<D, B, M, H>> {
  const env = await harnessEnv<EntityOf<D>, B, M, H, S>(options);
  const { mock, captured, waiters, events, metrics, http, logger } = env;
  const registry: HarnessRegistry = { handles: new Map<string, unknown>(), stops: [] };
  const { handles, stops } = registry;
  let ctx: ContextOf<D> | undefined;
  const setupOne = (def: HarnessModule, opts: unknown) => setupModule(env, options.store, registry, def, opts);

  return {
    get ctx() {
      if (!ctx) throw new Error("moduleHarness: ctx exists once setup() has run");
      return ctx;
    },
    mock,
    events,
    metrics,
    http,
    logger,
    lines: captured.lines,
    line(match, timeoutMs = 2000) {
      return waitForLine(captured, waiters, match, timeoutMs);
    },
    async setup(opts): Promise<HandleOfModule<D>> {
      if (ctx) throw new Error(`moduleHarness: ${definition.name} is set up already`);
      for (const dep of options.modules ?? []) await setupOne(dep.definition, dep.options);
      ctx = (await setupOne(definition, opts)) as ContextOf<D>;
      return handles.get(definition.name) as HandleOfModule<D>;
    },
    module(def) {
      if (!handles.has(def.name)) throw new Error(`moduleHarness: module "${def.name}" was not set up`);
      return handles.get(def.name) as HandleOfModule<typeof def>;
    },
    online() {
      const entity = mock.entity as { emit(event: string, ...args: unknown[]): boolean; jid: unknown };
      entity.emit("online", entity.jid);
    },
    async stop() {
      for (const fn of stops.splice(0).reverse()) await fn();
      await http.close();
      await (options.store as { close?(): Promise<void> } | undefined)?.close?.();
    },
  };
}
