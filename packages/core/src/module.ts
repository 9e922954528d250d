// The module contract. A feature package exports
//   - a setup function for bots and bridges: `setupX({ …core handles it needs }, options)` → typed handle;
//   - a `ModuleDefinition` the gateway loads by name: options schema (Prosody option names), requirements,
//     and a setup that calls the same setup function with handles from the ModuleContext.
import type { z } from "zod";
import type { ModuleEvents } from "./events.js";
import type { HttpServer } from "./http.js";
import type { Kit } from "./kit.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import { parseOptions } from "./options.js";
import type { PermissionRequirement } from "./privilege.js";
import type { Store } from "./store/store.js";

export interface ModuleRequirements {
  /** Modules that must be enabled too (their handles are available through `ctx.module(name)`). */
  modules?: string[];
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
  /** The handle another (required) module returned from its setup. */
  module<H = unknown>(name: string): H;
  /** Run `fn` on shutdown, before the store closes and the stream ends (reverse order of registration). */
  onStop(fn: () => void | Promise<void>): void;
}

export interface ModuleDefinition<S extends z.ZodType = z.ZodType, H = unknown> {
  /** The name used in `modules_enabled` and as the config section, e.g. "http-roster-admin". */
  name: string;
  description: string;
  /** Options schema, with defaults, under Prosody's option names. Use strict objects: unknown keys are errors. */
  options: S;
  requires?: ModuleRequirements | ((options: z.output<S>) => ModuleRequirements);
  setup(ctx: ModuleContext, options: z.output<S>): H | Promise<H>;
}

export type AnyModuleDefinition = ModuleDefinition<z.ZodType, unknown>;

/** Type helper: `export const module = defineModule({ … })` keeps the option and handle types. */
export function defineModule<S extends z.ZodType, H>(def: ModuleDefinition<S, H>): ModuleDefinition<S, H> {
  return def;
}

export function moduleRequirements<S extends z.ZodType>(def: ModuleDefinition<S, unknown>, options: z.output<S>): ModuleRequirements {
  return typeof def.requires === "function" ? def.requires(options) : (def.requires ?? {});
}

/** Validate a module's raw options; errors name the path under the module's section. */
export function parseModuleOptions<S extends z.ZodType>(def: ModuleDefinition<S, unknown>, raw: unknown): z.output<S> {
  return parseOptions(def.options, raw, def.name);
}

/** Is `value` shaped like a module definition (for loaders that import packages by name)? */
export function isModuleDefinition(value: unknown): value is AnyModuleDefinition {
  const v = value as Partial<AnyModuleDefinition> | null;
  return !!v && typeof v.name === "string" && typeof v.setup === "function" && typeof v.options === "object";
}
