// Finding module definitions: each entry of `modules_enabled` is a package. A short name (`report-forward`)
// is @xmppkit's (`@xmppkit/report-forward`) when that is installed, else an unscoped package of that name
// (`xmppkit-module-foo`); a scoped name is a package name (`@acme/xmpp-desk`). The definition comes from the package's `./gateway` entry (or its main entry), as
// the export `gatewayModule` or the default export, and must speak this gateway's module contract.
import { XmppkitError, contractMismatch, isModuleDefinition, moduleRefName, type AnyModuleDefinition, type ModuleRequirements } from "@xmppkit/core";

export class ModuleNotInstalledError extends XmppkitError {
  static override readonly brand = "ModuleNotInstalledError";
  constructor(
    readonly module: string,
    readonly packageName: string,
  ) {
    const either = packageName === module ? packageName : `${packageName} (nor a package named ${module})`;
    super(`module "${module}" is enabled but ${either} is not installed (npm install ${packageName})`);
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

/** Load one entry's definition and check it against the contract. */
export async function loadModule(entry: string, importer: Importer = importPackage): Promise<ResolvedModule> {
  const ours = packageNameOf(entry);
  for (const packageName of ours === entry ? [entry] : [ours, entry]) {
    let mod: Record<string, unknown> | undefined;
    try {
      mod = await importModulePackage(packageName, importer);
    } catch (err) {
      throw new Error(`module "${entry}": loading ${packageName} failed: ${(err as Error).message}`);
    }
    if (mod) return { entry, packageName, def: checkedDefinition(entry, packageName, mod, packageName === ours && ours !== entry) };
  }
  throw new ModuleNotInstalledError(entry, ours);
}

function checkedDefinition(entry: string, packageName: string, mod: Record<string, unknown>, xmppkits: boolean): AnyModuleDefinition {
  const def = definitionIn(mod);
  if (!def)
    throw new Error(
      `module "${entry}": ${packageName} exports no gateway module definition (expected an export named gatewayModule from ${packageName}/gateway)`,
    );
  const mismatch = contractMismatch(def);
  if (mismatch) throw new Error(`module "${entry}": ${packageName} cannot be loaded: ${mismatch}`);
  if (xmppkits && def.name !== entry) throw new Error(`module "${entry}": ${packageName} defines a module named "${def.name}"`);
  return def;
}

/** Resolve every entry; `registry` definitions (tests, embedding apps) win over packages, by entry. */
export async function resolveModules(entries: string[], registry: Record<string, AnyModuleDefinition> = {}, importer?: Importer): Promise<ResolvedModule[]> {
  // Imported side by side (the loader's file reads overlap the compiling); a failure is reported for the
  // first failing entry in the list's order, as when they were imported one by one.
  const settled = await Promise.allSettled(
    entries.map(async (entry): Promise<ResolvedModule> => {
      const given = registry[entry];
      return given ? { entry, packageName: packageNameOf(entry), def: given } : loadModule(entry, importer);
    }),
  );
  const out: ResolvedModule[] = [];
  for (const r of settled) {
    if (r.status === "rejected") throw r.reason;
    out.push(r.value);
  }
  const seen = new Map<string, string>();
  for (const m of out) {
    const other = seen.get(m.def.name);
    if (other) throw new Error(`modules "${other}" and "${m.entry}" both define a module named "${m.def.name}"`);
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

/** Order definitions so that each comes after the modules it requires (and the optional ones enabled); report missing and circular ones. */
export function orderModules<T extends { def: AnyModuleDefinition; requires: string[] }>(defs: T[]): T[] {
  const byName = new Map(defs.map((d) => [d.def.name, d]));
  const out: T[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, chain: string[]) => {
    const entry = byName.get(name)!;
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting") throw new Error(`modules require each other in a circle: ${[...chain, name].join(" → ")}`);
    state.set(name, "visiting");
    for (const req of entry.requires) {
      if (!byName.has(req)) throw new Error(`module "${name}" requires module "${req}": add it to modules_enabled`);
      visit(req, [...chain, name]);
    }
    state.set(name, "done");
    out.push(entry);
  };
  for (const d of defs) visit(d.def.name, []);
  return out;
}
