// Finding module definitions by name: `report-forward` → the `gatewayModule` export of
// @xmppkit/report-forward (or its default export).
import { isModuleDefinition, type AnyModuleDefinition } from "@xmppkit/core";

export class ModuleNotInstalledError extends Error {
  override name = "ModuleNotInstalledError";
  constructor(readonly module: string, readonly packageName: string) {
    super(`module "${module}" is enabled but ${packageName} is not installed (pnpm add ${packageName})`);
  }
}

export function packageNameOf(module: string): string {
  return `@xmppkit/${module}`;
}

/** Import the module definitions for `names`; `registry` entries (tests, embedding apps) win over packages. */
export async function resolveModules(
  names: string[],
  registry: Record<string, AnyModuleDefinition> = {},
): Promise<AnyModuleDefinition[]> {
  const defs: AnyModuleDefinition[] = [];
  for (const name of names) {
    const given = registry[name];
    if (given) {
      defs.push(given);
      continue;
    }
    const pkg = packageNameOf(name);
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pkg)) as Record<string, unknown>;
    } catch (err) {
      const code = (err as { code?: string }).code;
      const message = (err as Error).message ?? "";
      if ((code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && message.includes(pkg)) {
        throw new ModuleNotInstalledError(name, pkg);
      }
      throw new Error(`module "${name}": loading ${pkg} failed: ${message}`);
    }
    const def = [mod.gatewayModule, mod.default, (mod.default as Record<string, unknown> | undefined)?.gatewayModule].find(isModuleDefinition);
    if (!def) throw new Error(`module "${name}": ${pkg} exports no gateway module definition (expected an export named gatewayModule)`);
    if (def.name !== name) throw new Error(`module "${name}": ${pkg} defines a module named "${def.name}"`);
    defs.push(def);
  }
  return defs;
}

/** Order definitions so that each comes after the modules it requires; report missing and circular ones. */
export function orderModules(
  defs: { def: AnyModuleDefinition; requires: string[] }[],
): AnyModuleDefinition[] {
  const byName = new Map(defs.map((d) => [d.def.name, d]));
  const out: AnyModuleDefinition[] = [];
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
    out.push(entry.def);
  };
  for (const d of defs) visit(d.def.name, []);
  return out;
}
