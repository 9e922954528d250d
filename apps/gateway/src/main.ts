// xmppkit-gateway: run the gateway from a YAML config (the bin's body; cli.ts loads it).
import { flushCompileCache } from "node:module";
import { parseArgs } from "node:util";
import { ConfigError, FatalConnectionError, type Logger } from "@xmppkit/core";
import { createLogger, systemdNotifier, type ServiceNotifier } from "@xmppkit/runtime";
import { listCommands, runCommand } from "./commands.js";
import { loadConfig, withLines, type GatewayConfig, type SourceMap } from "./config.js";
import { GATEWAY_VERSION, GatewayAbortedError, prepareModules, startGateway, type Gateway } from "./gateway.js";

/** Documented in the README; stable for systemd and scripts. */
export const EXIT = { ok: 0, failure: 1, usage: 2, config: 3, connection: 4 } as const;

const HELP = `xmppkit-gateway ${GATEWAY_VERSION}: an XEP-0114 component that runs xmppkit modules beside Prosody or ejabberd

Usage:
  xmppkit-gateway --config gateway.yaml          run the gateway
  xmppkit-gateway --config gateway.yaml --check-config
                                                 validate the config and the enabled modules, then exit
  xmppkit-gateway <command> --config gateway.yaml [options]
                                                 a command of a module (<command> --help for its options)
  xmppkit-gateway --version | --help

Exit codes: 0 stopped cleanly (SIGTERM/SIGINT/SIGHUP) or check passed, 1 unexpected failure, 2 bad usage,
3 invalid config or module not installed, 4 the server refused the component (wrong secret, unknown domain).
`;

function die(code: number, message: string): never {
  process.stderr.write(`xmppkit-gateway: ${message}\n`);
  process.exit(code);
}

/** Run the CLI. `early`: a signal that arrived while this module was loading (stop at once). */
export async function main(argv: string[], early?: string) {
  if (argv[0] && !argv[0].startsWith("-")) return runModuleCommand(argv);
  const values = parseCliArgs(argv);
  if (values.help) return printHelp();
  if (values.version) {
    process.stdout.write(`${GATEWAY_VERSION}\n`);
    return;
  }
  if (!values.config) die(EXIT.usage, "missing --config <file> (see --help)");
  const { config, sourceMap } = loadConfigOrDie(values.config);
  if (values["check-config"]) return checkConfig(values.config, config, sourceMap);
  return runGateway(config, sourceMap, early);
}

/** `xmppkit-gateway <command> ...`: a command of an installed module. */
async function runModuleCommand(argv: string[]): Promise<void> {
  const io = {
    stdout: (s: string) => void process.stdout.write(s),
    stderr: (s: string) => void process.stderr.write(s),
    columns: process.stdout.isTTY ? process.stdout.columns : undefined,
  };
  process.exitCode = await runCommand(argv[0]!, argv.slice(1), io);
}

function parseCliArgs(argv: string[]): { config?: string; "check-config"?: boolean; version?: boolean; help?: boolean } {
  try {
    return parseArgs({
      args: argv,
      options: {
        config: { type: "string", short: "c" },
        "check-config": { type: "boolean" },
        version: { type: "boolean", short: "v" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    die(EXIT.usage, `${(err as Error).message} (see --help)`);
  }
}

/** The usage, then the commands of the installed modules. */
async function printHelp(): Promise<void> {
  const commands = await listCommands();
  process.stdout.write(
    HELP +
      (commands.length ? `\nCommands of the installed modules:\n${commands.map((c) => `  ${c.name.padEnd(12)} ${c.summary} (${c.module})`).join("\n")}\n` : ""),
  );
}

/** A configuration mistake: exit 3 with its one-line message (with the YAML line of each issue when known), no stack. */
function dieOfConfigError(err: ConfigError, sourceMap?: SourceMap): never {
  die(EXIT.config, withLines(err, sourceMap).message);
}

function loadConfigOrDie(path: string): ReturnType<typeof loadConfig> {
  try {
    return loadConfig(path);
  } catch (err) {
    if (ConfigError.isInstance(err)) die(EXIT.config, err.message);
    throw err;
  }
}

/**
 * --check-config: every check start makes before it touches the network. loadConfig has run the config's
 * own rules (the HTTP listen/token rule, ha.enabled needs storage.postgres, …); prepareModules, which start
 * runs too, loads the modules, validates their options and their composition.
 */
async function checkConfig(path: string, config: GatewayConfig, sourceMap: SourceMap): Promise<void> {
  try {
    await prepareModules(config, { sourceMap });
  } catch (err) {
    if (ConfigError.isInstance(err)) dieOfConfigError(err, sourceMap);
    throw err;
  }
  process.stdout.write(`${path}: ok (${config.modules_enabled.length} module(s): ${config.modules_enabled.join(", ") || "none"})\n`);
}

/** Run the gateway until a signal (exit 0), or until the server refuses the component (exit 4). */
async function runGateway(config: GatewayConfig, sourceMap: SourceMap, early: string | undefined): Promise<void> {
  const log = createLogger({ level: config.log.level, format: config.log.format, name: "xmppkit-gateway" });
  if (early) {
    log.info({ signal: early }, "signal received before start-up; stopped");
    return;
  }
  // Signals are handled from the first moment: a SIGTERM during start-up stops what was set up, cleanly.
  const abort = new AbortController();
  const signals = handleSignals(log, abort);
  // systemd (Type=notify, WatchdogSec=): READY=1 once /healthz answers, WATCHDOG=1 pings from this event loop.
  const notifier = await systemdNotifier({ logger: log });
  signals.notifying(notifier);
  // afterStartup: 2 s after the gateway is up, or 10 s after HTTP listens for one still waiting (a standby, a
  // server that does not answer yet), then again once it is up.
  let afterStartupTimer: NodeJS.Timeout | undefined;
  const onServing = () => {
    notifier.ready("starting: waiting for the store, the lease and the link");
    afterStartupTimer = setTimeout(afterStartup, 10_000).unref();
  };
  let running: Gateway;
  try {
    running = await startGateway(config, { logger: log, sourceMap, signal: abort.signal, onServing });
  } catch (err) {
    if (!abort.signal.aborted) notifier.stopping(); // a signal said it already
    notifier.close();
    dieOfStartError(err, config, log, sourceMap);
  }
  signals.started(running);
  clearTimeout(afterStartupTimer);
  setTimeout(afterStartup, 2000).unref();
  notifier.status(`holding the link to ${config.component.service} as ${config.component.domain}`);
  running.events.on("gateway-lease-lost", () => notifier.status("lost the lease: link closed, waiting as a standby"));
  running.events.on("gateway-takeover", () => notifier.status(`holding the link to ${config.component.service} as ${config.component.domain}`));
  running.kit.lifecycle.on("fatal", ({ error }) => {
    notifier.stopping("the server refused the component");
    log.fatal({ err: error.message }, "the server refused the component; giving up");
    void running.stop().finally(() => {
      notifier.close();
      die(EXIT.connection, `${config.component.service} refused ${config.component.domain}: ${error.message}`);
    });
  });
}

/**
 * Once start-up is over (the first room joins and audit writes done; see runGateway for when):
 *   - Node's compile cache (cli.ts): write what start-up compiled now, not only at exit (a crash or a watchdog
 *     kill never gets there). Nothing to do without a cache, or when it was warm.
 *   - One full garbage collection that reduces memory, as V8 does under memory pressure. Loading the modules
 *     and their dependencies grows V8's young generation to 16 MiB (~12 MiB of it resident), and nothing
 *     gives it back while the gateway idles: V8 shrinks it only at a collection during little allocation,
 *     which an idle gateway, allocating almost nothing, never starts (45 s later it is still there), and
 *     even then Node 22's V8 keeps the freed pages pooled. This collection shrinks it and releases them at
 *     once: ~14 MiB less resident (bench/startup), for two full collections on the main thread, once
 *     (~45 ms on an idle 2-core machine, up to ~95 ms on a busy one). Under load the young generation grows
 *     again as V8 sees fit. The gc function comes from V8's own extension, exposed to one new context and
 *     hidden again (node:v8 and node:vm are loaded only now). If anything about it fails, nothing is
 *     collected.
 */
function afterStartup(): void {
  try {
    flushCompileCache();
  } catch {
    // no cache
  }
  try {
    const { setFlagsFromString } = process.getBuiltinModule("node:v8");
    let gc = (globalThis as { gc?: unknown }).gc; // node --expose-gc
    if (typeof gc !== "function") {
      setFlagsFromString("--expose-gc");
      try {
        gc = process.getBuiltinModule("node:vm").runInNewContext("gc");
      } finally {
        setFlagsFromString("--no-expose-gc");
      }
    }
    if (typeof gc === "function") gc({ type: "major", execution: "sync", flavor: "last-resort" });
  } catch {
    // nothing collected
  }
}

/**
 * SIGTERM, SIGINT and SIGHUP: before the gateway is up, abort its start-up; once it is up, stop it and exit 0
 * (1 if stopping failed). A second signal exits at once. SIGHUP stops like SIGTERM: nothing can be reloaded
 * without a restart yet, and its default action (the process killed, the SQLite lock file left behind) was
 * worse than a clean stop.
 */
function handleSignals(log: Logger, abort: AbortController): { started(gateway: Gateway): void; notifying(notifier: ServiceNotifier): void } {
  let gateway: Gateway | undefined;
  let service: ServiceNotifier | undefined;
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, "second signal: exiting now");
      service?.close();
      process.exit(EXIT.failure);
    }
    stopping = true;
    service?.stopping(`stopping (${signal})`);
    log.info({ signal }, "signal received");
    if (signal === "SIGHUP") log.info({ signal }, "SIGHUP stops the gateway: nothing is reloaded without a restart");
    if (!gateway) {
      abort.abort(); // startGateway stops what it set up and rejects with GatewayAbortedError
      return;
    }
    gateway.stop().then(
      () => {
        service?.close();
        process.exit(EXIT.ok);
      },
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        service?.close();
        process.exit(EXIT.failure);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGHUP", () => shutdown("SIGHUP"));
  return {
    started(started) {
      gateway = started;
    },
    notifying(notifier) {
      service = notifier;
    },
  };
}

/** The exit code that says why start-up failed. */
function dieOfStartError(err: unknown, config: GatewayConfig, log: Logger, sourceMap: SourceMap): never {
  if (err instanceof GatewayAbortedError) {
    log.info("stopped before start-up finished");
    process.exit(EXIT.ok);
  }
  if (ConfigError.isInstance(err)) dieOfConfigError(err, sourceMap);
  if ((err as Error).name === "LockedError") die(EXIT.failure, (err as Error).message);
  if (FatalConnectionError.isInstance(err)) {
    die(EXIT.connection, `cannot connect to ${config.component.service} as ${config.component.domain}: ${err.message}`);
  }
  const sqlState = postgresRefusal(err);
  if (sqlState)
    die(sqlState.config ? EXIT.config : EXIT.failure, `storage.postgres: PostgreSQL refused the gateway: ${(err as Error).message} (${sqlState.code})`);
  die(EXIT.failure, (err as Error).stack ?? String(err));
}

/**
 * A PostgreSQL error answer (SQLSTATE code and severity), and whether a setting is wrong (password, role,
 * database): that is said in one line, and a restart will not fix it. An unreachable PostgreSQL is waited for
 * and never gets here.
 */
function postgresRefusal(err: unknown): { code: string; config: boolean } | undefined {
  const e = err as { code?: unknown; severity?: unknown };
  if (typeof e?.code !== "string" || !/^[0-9A-Z]{5}$/.test(e.code) || typeof e.severity !== "string") return undefined;
  return { code: e.code, config: /^(28|3D)/.test(e.code) };
}

/** Entry point for cli.ts. A configuration mistake that got this far is still one: exit 3, one line. */
export function run(argv: string[], early?: string): void {
  main(argv, early).catch((err: unknown) => (ConfigError.isInstance(err) ? dieOfConfigError(err) : die(EXIT.failure, (err as Error).stack ?? String(err))));
}
