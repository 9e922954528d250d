// Subcommands that modules contribute (`xmppkit-gateway <command> --config gateway.yaml …`), e.g.
// audit-geoip's `audit`. A command is found among the config's enabled modules and xmppkit's own modules
// (a command may be useful while its module is off: `audit` reads a log an earlier run wrote).
import { ConfigError, parseModuleOptions, type AnyModuleDefinition, type CommandContext, type ModuleCommand } from "@xmppkit/core";
import { openStore } from "@xmppkit/runtime";
import { loadConfig, type GatewayConfig } from "./config.js";
import { storeOptions } from "./gateway.js";
import { BUNDLED_MODULES, loadModule, ModuleNotInstalledError } from "./modules.js";

export { BUNDLED_MODULES };

export interface FoundCommand {
  entry: string;
  def: AnyModuleDefinition;
  command: ModuleCommand;
}

/** The modules to search, enabled ones first; a module that cannot be loaded offers nothing. */
async function candidates(entries: readonly string[]): Promise<{ entry: string; def: AnyModuleDefinition }[]> {
  const out: { entry: string; def: AnyModuleDefinition }[] = [];
  for (const entry of new Set(entries)) {
    try {
      out.push(await loadModule(entry));
    } catch (err) {
      if (!(err instanceof ModuleNotInstalledError)) throw err;
    }
  }
  return out;
}

export async function findCommand(name: string, enabled: readonly string[] = []): Promise<FoundCommand | undefined> {
  for (const { entry, def } of await candidates([...enabled, ...BUNDLED_MODULES])) {
    const command = def.commands?.[name];
    if (command) return { entry, def, command: command as ModuleCommand };
  }
  return undefined;
}

/** Every command on offer, for --help. */
export async function listCommands(enabled: readonly string[] = []): Promise<{ name: string; module: string; summary: string }[]> {
  const out: { name: string; module: string; summary: string }[] = [];
  for (const { def } of await candidates([...enabled, ...BUNDLED_MODULES])) {
    for (const [name, command] of Object.entries(def.commands ?? {})) out.push({ name, module: def.name, summary: command.summary });
  }
  return out;
}

/** `--config <file>`, `--config=<file>` or `-c <file>`, taken out of a command's arguments. */
export function takeConfig(args: readonly string[]): { config: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let config: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--config" || a === "-c") config = args[++i];
    else if (a.startsWith("--config=")) config = a.slice("--config=".length);
    else rest.push(a);
  }
  return { config, rest };
}

export interface CommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
  columns?: number | undefined;
  env?: NodeJS.ProcessEnv;
}

/** Load only what a command needs: the storage section's variables must be set; other secrets need not be. */
function commandConfig(path: string, env: NodeJS.ProcessEnv): GatewayConfig {
  return loadConfig(path, env, (_name, at) => (at[0] === "storage" ? undefined : "unset-for-a-command")).config;
}

/** Run `xmppkit-gateway <name> …`; returns the exit code (2 bad usage, 3 config, else the command's). */
export async function runCommand(name: string, args: string[], io: CommandIo): Promise<number> {
  const { config: path, rest } = takeConfig(args);
  const wantsHelp = rest.includes("--help") || rest.includes("-h");
  let config: GatewayConfig | undefined;
  if (path) {
    try {
      config = commandConfig(path, io.env ?? process.env);
    } catch (err) {
      if (!ConfigError.isInstance(err)) throw err;
      io.stderr(`xmppkit-gateway: ${err.message}\n`);
      return 3;
    }
  }
  const found = await findCommand(name, config?.modules_enabled ?? []);
  if (!found) {
    const known = (await listCommands(config?.modules_enabled ?? [])).map((c) => c.name);
    io.stderr(`xmppkit-gateway: unknown command "${name}"${known.length ? ` (commands: ${known.join(", ")})` : ""}; see --help\n`);
    return 2;
  }
  if (wantsHelp) {
    io.stdout(found.command.help);
    return 0;
  }
  if (!config || !path) {
    io.stderr(`xmppkit-gateway ${name}: missing --config <file> (see ${name} --help)\n`);
    return 2;
  }
  const enabled = config.modules_enabled.includes(found.entry);
  let options: unknown;
  try {
    options = enabled ? parseModuleOptions(found.def, config.moduleSections[found.entry] ?? {}, found.entry) : undefined;
  } catch (err) {
    if (!ConfigError.isInstance(err)) throw err;
    io.stderr(`xmppkit-gateway: ${err.message}\n`);
    return 3;
  }
  const ctx: CommandContext<unknown> = {
    options,
    configPath: path,
    component: config.component.domain,
    enabled,
    openStore: (options) => openStore({ ...storeOptions(config), ...(options?.readOnly ? { readOnly: true } : {}) }),
    stdout: io.stdout,
    stderr: io.stderr,
    columns: io.columns,
  };
  return found.command.run(rest, ctx);
}
