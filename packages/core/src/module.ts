// The module contract. A feature package exports
//   - from its main entry, a setup function for bots and bridges: `setupX({ …core handles it needs }, options)`
//     → typed handle;
//   - from its `./gateway` entry, a `ModuleDefinition` the gateway loads: options schema (any Standard Schema,
//     under Prosody's option names), requirements, a setup that calls the same setup function with handles
//     from the ModuleContext, and optionally CLI subcommands.
// The contract is versioned (MODULE_CONTRACT): a loader refuses a definition made for another version.
import type { ModuleEvents } from "./events.js";
import type { HttpServer } from "./http.js";
import type { Kit } from "./kit.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import { validateOptions } from "./options.js";
import type { PermissionRequirement } from "./privilege.js";
import type { StandardSchemaV1 } from "./standard-schema.js";
import type { Store } from "./store/store.js";

/** The version of this contract; bumped on any change a loader or a module cannot absorb. */
export const MODULE_CONTRACT = 1;

/** Another module, by definition (typed handle) or by name. */
export type ModuleRef = string | { readonly name: string };

export interface ModuleRequirements {
  /** Modules that must be enabled too, set up before this one (`ctx.module(def)` gives their handles). */
  modules?: ModuleRef[];
  /** Modules set up before this one when they are enabled (`ctx.optionalModule(def)`: the handle or undefined). */
  optionalModules?: ModuleRef[];
  /** XEP-0356 permissions the module needs; missing ones are reported at start with the config that grants them. */
  permissions?: PermissionRequirement[];
  /** XEP-0355 namespaces the server should delegate. */
  delegations?: string[];
  /** The module serves HTTP routes. */
  http?: boolean;
  /** The module needs the store. */
  store?: boolean;
}

/** What a module's setup gets from the gateway (or from a bot that composes modules itself). */
export interface ModuleContext {
  readonly name: string;
  readonly kit: Kit;
  readonly log: Logger;
  readonly events: ModuleEvents;
  readonly metrics: Metrics;
  /** The shared HTTP server; present when the module declares `requires.http`. */
  readonly http: HttpServer | undefined;
  /** The shared store; present when the module declares `requires.store`. */
  readonly store: Store | undefined;
  /** The handle of a module listed in `requires.modules`. */
  module<D extends AnyModuleDefinition>(definition: D): HandleOf<D>;
  /** The handle of a module listed in `requires.optionalModules`, or undefined when it is not enabled. */
  optionalModule<D extends AnyModuleDefinition>(definition: D): HandleOf<D> | undefined;
  /** Run `fn` on shutdown, before the store closes and the stream ends (reverse order of registration). */
  onStop(fn: () => void | Promise<void>): void;
}

/** What a module's CLI subcommand gets (`xmppkit-gateway <command> --config gateway.yaml …`). */
export interface CommandContext<O> {
  /** The module's options from the config file; undefined when the module is not enabled there. */
  readonly options: O | undefined;
  /** The config file's path, for messages. */
  readonly configPath: string;
  /** The component's domain (the gateway's JID). */
  readonly component: string;
  /** Whether the module is in the config's `modules_enabled`. */
  readonly enabled: boolean;
  /**
   * Open the store the config names (the caller closes it). `readOnly`: a reading command's open, which never
   * creates a SQLite file (it fails when there is none) nor migrates it.
   */
  openStore(options?: { readOnly?: boolean }): Promise<Store>;
  stdout(text: string): void;
  stderr(text: string): void;
  /** The terminal's width, when stdout is one. */
  readonly columns: number | undefined;
}

export interface ModuleCommand<O = unknown> {
  /** One line for the gateway's --help. */
  summary: string;
  /** The command's own --help text. */
  help: string;
  /** `args` are those after the command name, with `--config <file>` taken out. Returns the exit code. */
  run(args: string[], ctx: CommandContext<O>): Promise<number>;
}

type Output<S extends StandardSchemaV1> = StandardSchemaV1.InferOutput<S>;

export interface ModuleSpec<S extends StandardSchemaV1 = StandardSchemaV1, H = unknown> {
  /** The module's name: its config section, its metrics' and logs' name, e.g. "http-roster-admin". */
  name: string;
  description: string;
  /** Options schema (any Standard Schema: zod, valibot…), with defaults, under Prosody's option names. */
  options: S;
  requires?: ModuleRequirements | ((options: Output<S>) => ModuleRequirements);
  setup(ctx: ModuleContext, options: Output<S>): H | Promise<H>;
  /** CLI subcommands the module adds to the gateway, by name. */
  commands?: Record<string, ModuleCommand<Output<S>>>;
}

export interface ModuleDefinition<S extends StandardSchemaV1 = StandardSchemaV1, H = unknown> extends ModuleSpec<S, H> {
  /** The MODULE_CONTRACT the definition was made for. */
  readonly contract: number;
}

// biome-ignore lint/suspicious/noExplicitAny: any definition, whatever its schema and handle types
export type AnyModuleDefinition = ModuleDefinition<any, unknown>;

/** The handle a module's setup returns. */
// biome-ignore lint/suspicious/noExplicitAny: matches any setup's parameters
export type HandleOf<D> = D extends { setup(...args: any[]): infer H } ? Awaited<H> : never;

/** `export const gatewayModule = defineModule({ … })`: stamps the contract version, keeps option and handle types. */
export function defineModule<S extends StandardSchemaV1, H>(spec: ModuleSpec<S, H>): ModuleDefinition<S, H> {
  return { ...spec, contract: MODULE_CONTRACT };
}

export function moduleRequirements(def: AnyModuleDefinition, options: unknown): ModuleRequirements {
  return typeof def.requires === "function" ? def.requires(options) : (def.requires ?? {});
}

/** The name of a module reference. */
export function moduleRefName(ref: ModuleRef): string {
  return typeof ref === "string" ? ref : ref.name;
}

/** Validate a module's raw options; errors name the path under `section` (default: the module's name). */
export function parseModuleOptions<S extends StandardSchemaV1>(def: ModuleDefinition<S, unknown>, raw: unknown, section = def.name): Output<S> {
  return validateOptions(def.options, raw, section);
}

/** Is `value` shaped like a module definition (for loaders that import packages by name)? */
export function isModuleDefinition(value: unknown): value is AnyModuleDefinition {
  const v = value as Partial<AnyModuleDefinition> | null;
  return !!v && typeof v.name === "string" && typeof v.setup === "function" && typeof v.options === "object" && v.options !== null && "~standard" in v.options;
}

/** Why a loader cannot use `def`, or undefined when it speaks this contract. */
export function contractMismatch(def: AnyModuleDefinition): string | undefined {
  const made = (def as { contract?: unknown }).contract;
  if (made === MODULE_CONTRACT) return undefined;
  if (typeof made !== "number") return `it was not made with defineModule() (no contract version); this loader speaks contract ${MODULE_CONTRACT}`;
  return made > MODULE_CONTRACT
    ? `it was made for module contract ${made}, newer than this gateway's ${MODULE_CONTRACT}: upgrade the gateway (@xmppkit/core)`
    : `it was made for module contract ${made}, older than this gateway's ${MODULE_CONTRACT}: upgrade the module`;
}
