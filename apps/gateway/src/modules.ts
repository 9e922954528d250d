// Finding module definitions: each entry of `modules_enabled` is a package. A short name (`report-forward`)
// is @xmppkit's (`@xmppkit/report-forward`) when that is installed, else an unscoped package of that name
// (`xmppkit-module-foo`); a scoped name is a package name (`@acme/xmpp-desk`). The definition comes from the package's `./gateway` entry (or its main entry), as
// the export `gatewayModule` or the default export, and must speak this gateway's module contract.
// Every mistake found here is the operator's to fix (a ConfigError at its modules_enabled entry: exit 3).
import { ConfigError, contractMismatch, isModuleDefinition, moduleRefName, type AnyModuleDefinition, type ModuleRequirements } from "@xmppkit/core";
import { closestName } from "@xmppkit/runtime";

/** xmppkit's own modules, installed with the gateway. */
export const BUNDLED_MODULES = ["track-muc-joins", "ping-muc", "report-affiliations", "report-forward", "http-roster-admin", "audit-geoip"] as const;

/** A ConfigError about one modules_enabled entry (or the list): `modules_enabled[0]: module "ping-muc" requires …`. */
export function moduleConfigError(path: string, message: string): ConfigError {
  return new ConfigError(`${path}: ${message}`, [{ path, message }]);
}

/** An enabled module whose package is not installed: a ConfigError at its entry (a restart will not install it). */
export class ModuleNotInstalledError extends ConfigError {
  // ConfigError.isInstance() is true for it too (a brand carries its parents' brands).
  static override readonly brand = "ModuleNotInstalledError";
  constructor(
    readonly module: string,
    readonly packageName: string,
    path = "modules_enabled",
    /** A bundled module the name is a typo of. */
    readonly suggestion: string | undefined = closestName(module, BUNDLED_MODULES),
  ) {
    const either = packageName === module ? packageName : `${packageName} (nor a package named ${module})`;
    const reason = `module "${module}" is enabled but ${either} is not installed${suggestion ? `: did you mean "${suggestion}"?` : ` (npm install ${packageName})`}`;
    super(`${path}: ${reason}`, [{ path, message: reason }]);
  }
}

/** A modules_enabled entry, with the package it names and the definition it loaded. */
export interface ResolvedModule {
  /** The entry as written: also the name of the module's config section. */
  entry: string;
  packageName: string;
  def: AnyModuleDefinition;
}

const SHORT_NAME = /^[a-z0-9][a-z0-9-]*$/;

/** `ping-muc` → `@xmppkit/ping-muc` (tried first); a scoped package name stays as it is. */
export function packageNameOf(entry: string): string {
  return SHORT_NAME.test(entry) ? `@xmppkit/${entry}` : entry;
}

/** The package (or its `./gateway` entry) is missing, not something it imports ("… imported from <its file>"). */
function isNotFound(err: unknown, pkg: string): boolean {
  const code = (err as { code?: string }).code;
  if (code === "ERR_PACKAGE_PATH_NOT_EXPORTED") return true;
  const missing = ((err as Error).message ?? "").split(" imported from")[0] ?? "";
  return (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && missing.includes(pkg);
}

/** How packages are imported (tests give their own). */
export type Importer = (specifier: string) => Promise<unknown>;

const importPackage: Importer = (specifier) => import(specifier);

/** The package's `./gateway` entry, else its main entry; undefined when the package is not installed. */
async function importModulePackage(pkg: string, importer: Importer): Promise<Record<string, unknown> | undefined> {
  for (const specifier of [`${pkg}/gateway`, pkg]) {
    try {
      return (await importer(specifier)) as Record<string, unknown>;
    } catch (err) {
      if (!isNotFound(err, pkg)) throw err;
    }
  }
  return undefined;
}

function definitionIn(mod: Record<string, unknown>): AnyModuleDefinition | undefined {
  const dflt = mod.default as Record<string, unknown> | undefined;
  return [mod.gatewayModule, dflt, dflt?.gatewayModule].find(isModuleDefinition);
}

/** Load one entry's definition and check it against the contract; `path` is the entry's, for errors. */
export async function loadModule(entry: string, importer: Importer = importPackage, path = "modules_enabled"): Promise<ResolvedModule> {
  const ours = packageNameOf(entry);
  for (const packageName of ours === entry ? [entry] : [ours, entry]) {
    let mod: Record<string, unknown> | undefined;
    try {
      mod = await importModulePackage(packageName, importer);
    } catch (err) {
      throw moduleConfigError(path, `module "${entry}": loading ${packageName} failed: ${(err as Error).message}`);
    }
    if (mod) return { entry, packageName, def: checkedDefinition(entry, packageName, mod, packageName === ours && ours !== entry, path) };
  }
  throw new ModuleNotInstalledError(entry, ours, path);
}

function checkedDefinition(entry: string, packageName: string, mod: Record<string, unknown>, xmppkits: boolean, path: string): AnyModuleDefinition {
  const def = definitionIn(mod);
  if (!def)
    throw moduleConfigError(
      path,
      `module "${entry}": ${packageName} exports no gateway module definition (expected an export named gatewayModule from ${packageName}/gateway)`,
    );
  const mismatch = contractMismatch(def);
  if (mismatch) throw moduleConfigError(path, `module "${entry}": ${packageName} cannot be loaded: ${mismatch}`);
  if (xmppkits && def.name !== entry) throw moduleConfigError(path, `module "${entry}": ${packageName} defines a module named "${def.name}"`);
  return def;
}

/** Resolve every entry; `registry` definitions (tests, embedding apps) win over packages, by entry. */
export async function resolveModules(entries: string[], registry: Record<string, AnyModuleDefinition> = {}, importer?: Importer): Promise<ResolvedModule[]> {
  // Imported side by side (the loader's file reads overlap the compiling); a failure is reported for the
  // first failing entry in the list's order, as when they were imported one by one.
  const settled = await Promise.allSettled(
    entries.map(async (entry, i): Promise<ResolvedModule> => {
      const given = registry[entry];
      return given ? { entry, packageName: packageNameOf(entry), def: given } : loadModule(entry, importer, `modules_enabled[${i}]`);
    }),
  );
  const out: ResolvedModule[] = [];
  for (const r of settled) {
    if (r.status === "rejected") throw r.reason;
    out.push(r.value);
  }
  const seen = new Map<string, string>();
  for (const [i, m] of out.entries()) {
    const other = seen.get(m.def.name);
    if (other)
      throw moduleConfigError(
        `modules_enabled[${i}]`,
        `modules "${other}" and "${m.entry}" both define a module named "${m.def.name}": enable only one of them`,
      );
    seen.set(m.def.name, m.entry);
  }
  return out;
}

/** The modules one depends on, by name: required ones, and the optional ones that are enabled. */
export function dependencies(requires: ModuleRequirements, enabled: ReadonlySet<string>): { required: string[]; optional: string[] } {
  return {
    required: (requires.modules ?? []).map(moduleRefName),
    optional: (requires.optionalModules ?? []).map(moduleRefName).filter((n) => enabled.has(n)),
  };
}

/**
 * Order definitions so that each comes after the modules it requires (and the optional ones enabled); report
 * missing and circular ones as ConfigErrors. `defs` are in modules_enabled order: an error's path is the index
 * of the module it is about (`modules_enabled[0]: module "ping-muc" requires module "track-muc-joins": …`).
 */
export function orderModules<T extends { def: AnyModuleDefinition; requires: string[] }>(defs: T[]): T[] {
  const byName = new Map(defs.map((d) => [d.def.name, d]));
  const pathOf = (d: T) => `modules_enabled[${defs.indexOf(d)}]`;
  const out: T[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, chain: string[]) => {
    const entry = byName.get(name)!;
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting") throw moduleConfigError(pathOf(entry), `modules require each other in a circle: ${[...chain, name].join(" → ")}`);
    state.set(name, "visiting");
    for (const req of entry.requires) {
      if (!byName.has(req)) throw moduleConfigError(pathOf(entry), `module "${name}" requires module "${req}": add it to modules_enabled`);
      visit(req, [...chain, name]);
    }
    state.set(name, "done");
    out.push(entry);
  };
  for (const d of defs) visit(d.def.name, []);
  return out;
}
