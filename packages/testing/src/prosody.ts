// A throw-away Prosody (Debian's `prosody` + `prosody-modules`) for end-to-end tests: its own temp directory,
// free loopback ports, users made with prosodyctl, `prosody -F` in the foreground, stopped on `stop()` and,
// as a safety net, when the test process exits.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, cpSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { type Installation, installation, upstreamVersion } from "./installation.js";
import { freePort, waitForPort } from "./ports.js";
import { resolveComponents, type ResolvedComponent } from "./resolve-components.js";

const run = promisify(execFile);

export const PROSODY_INSTALL_HINT = "apt-get install -y prosody prosody-modules (as root, after apt-get update)";
/** Where Debian's prosody-modules puts the community modules (inside the installation). */
const MODULES_DIR = "/usr/lib/prosody/modules";

export type RosterPermission = "none" | "get" | "set" | "both";

export interface ComponentOptions {
  /** Component domain (default `gateway.<domain>`). */
  domain?: string;
  /** Shared secret (default: random). */
  secret?: string;
  /** XEP-0356 grants on the main VirtualHost (default roster both, message outgoing, presence roster); false for none. */
  privileges?:
    | {
        roster?: RosterPermission;
        message?: "none" | "outgoing";
        presence?: "none" | "managed_entity" | "roster";
        iq?: Record<string, "get" | "set" | "both">;
      }
    | false;
  /** XEP-0355 namespaces the main VirtualHost delegates to this component. */
  delegations?: string[];
}

export interface VirtualHostOptions {
  domain: string;
  users?: Record<string, string>;
  /** Raw Lua lines inside the VirtualHost section (e.g. contact_info). */
  config?: string;
}

export interface ProsodyOptions {
  /**
   * The Prosody installation to run: "/" for the host's packages, or the root directory of another Debian
   * installation (a chroot with bookworm-backports' Prosody 13, say; run as root). Default: the environment
   * variable XMPPKIT_PROSODY_ROOT, else "/". The community modules are that installation's prosody-modules.
   */
  root?: string;
  /** The main VirtualHost (default "localhost"). */
  domain?: string;
  /** Users to create on the main host: name → password (default alice/alicepw, bob/bobpw). */
  users?: Record<string, string>;
  /** MUC component domain (default `conference.<domain>`); false for none. */
  muc?: string | false;
  /** The external component (default one, with the standard privileges); false for none. */
  component?: ComponentOptions | false;
  /** More external components (e.g. a second one to act as a remote service). */
  components?: ComponentOptions[];
  /** More VirtualHosts. */
  virtualHosts?: VirtualHostOptions[];
  /** Extra modules for the whole server. */
  modules?: string[];
  /** More directories where Prosody looks for modules (`plugin_paths`), e.g. a package's companion modules. */
  pluginPaths?: string[];
  /**
   * Where Prosody stores rosters and the rest: "internal" (files, the default), "memory" (nothing on disk), or
   * "sql" (SQLite through lua-dbi-sqlite3, in the run's directory). Accounts are always files.
   */
  storage?: "internal" | "memory" | "sql";
  /** Raw Lua appended to the global section. */
  globalConfig?: string;
  /** Raw Lua inside the main VirtualHost section. */
  hostConfig?: string;
  /** Lowest level written to prosody.log (default "debug": every stanza; use "info" for benchmarks). */
  logLevel?: "debug" | "info" | "warn" | "error";
}

export interface ProsodyUser {
  username: string;
  jid: string;
  password: string;
}

export interface ProsodyComponent {
  domain: string;
  secret: string;
  /** `xmpp://127.0.0.1:<port>` for @xmpp/component. */
  service: string;
}

export interface Prosody {
  readonly kind: "prosody";
  /** The installation's Prosody version ("0.12.3", "13.0.1"). */
  readonly version: string;
  /** The installation's root ("/" for the host's packages). */
  readonly root: string;
  domain: string;
  /** The run's directory, as the host sees it. */
  dir: string;
  configPath: string;
  /** Debug log with every stanza: the first place to look when a test fails. */
  logFile: string;
  c2s: { host: string; port: number; service: string };
  /** The first component (throws if the instance has none). */
  component: ProsodyComponent;
  /** The first component's secret (shorthand for `component.secret`). */
  secret: string;
  components: ProsodyComponent[];
  muc: string | undefined;
  users: Record<string, ProsodyUser>;
  /** Register a user (works while the server runs). */
  createUser(username: string, password?: string, host?: string): Promise<ProsodyUser>;
  /** Stop and start again on the same ports and data. */
  restart(): Promise<void>;
  /** Stop the server (idempotent). Also removes the temp directory unless `keep` is set. */
  stop(options?: { keep?: boolean }): Promise<void>;
  /** The last `lines` lines of the debug log. */
  logTail(lines?: number): string;
  readonly running: boolean;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of running) child.kill("SIGKILL");
  });
}

function onPath(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** Throw one line saying what to install if prosody (or prosody-modules, when needed) is missing. */
export function assertProsodyInstalled(needModules = true, inst: Installation = installation(undefined, "XMPPKIT_PROSODY_ROOT")): void {
  const where = inst.root === "/" ? "" : ` in ${inst.root}`;
  const hint = inst.root === "/" ? PROSODY_INSTALL_HINT : `bash scripts/backports-servers.sh ${inst.root} (as root)`;
  const installed = inst.root === "/" ? onPath("prosody") && onPath("prosodyctl") : inst.has("/usr/bin/prosody") && inst.has("/usr/bin/prosodyctl");
  if (!installed) throw new Error(`prosody is not installed${where}: ${hint}`);
  if (needModules && !inst.has(join(MODULES_DIR, "mod_privilege", "mod_privilege.lua"))) {
    throw new Error(`prosody-modules is not installed${where} (mod_privilege, mod_delegation): ${hint}`);
  }
}

/** A Lua string literal. */
export function lua(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n").replace(/\r/g, "\\r")}"`;
}

function renderConfig(o: {
  dir: string;
  c2sPort: number;
  componentPort: number;
  domain: string;
  muc: string | undefined;
  components: (ComponentOptions & { domain: string; secret: string })[];
  virtualHosts: VirtualHostOptions[];
  modules: string[];
  pluginPaths: string[];
  storage: "internal" | "memory" | "sql";
  globalConfig?: string | undefined;
  hostConfig?: string | undefined;
  logLevel?: string | undefined;
}): string {
  const privileged = o.components.filter((c) => c.privileges !== false);
  const priv = privileged.map((c) => {
    const p = c.privileges || {};
    const fields = [`roster = ${lua(p.roster ?? "both")}`, `message = ${lua(p.message ?? "outgoing")}`, `presence = ${lua(p.presence ?? "roster")}`];
    if (p.iq && Object.keys(p.iq).length) {
      fields.push(
        `iq = { ${Object.entries(p.iq)
          .map(([ns, t]) => `[${lua(ns)}] = ${lua(t)}`)
          .join("; ")} }`,
      );
    }
    return `\t\t[${lua(c.domain)}] = { ${fields.join("; ")} };`;
  });
  const delegations = o.components.flatMap((c) => (c.delegations ?? []).map((ns) => `\t\t[${lua(ns)}] = { jid = ${lua(c.domain)} };`));
  return `-- Generated by @xmppkit/testing for one test run. Loopback only, no TLS, no s2s, no HTTP.
run_as_root = true
pidfile = ${lua(join(o.dir, "prosody.pid"))}
data_path = ${lua(join(o.dir, "data"))}
certificates = ${lua(join(o.dir, "certs"))}
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { ${o.c2sPort} }
c2s_direct_tls_ports = { }
component_ports = { ${o.componentPort} }
component_interfaces = { "127.0.0.1" }
modules_enabled = {
\t"roster"; "saslauth"; "disco"; "ping"; "register"; "posix"; "presence"; "message"; "iq";
\t"privilege"; "delegation";
${o.modules.map((m) => `\t${lua(m)};`).join("\n")}
}
modules_disabled = { "s2s"; "offline"; "tls"; }
allow_registration = true
c2s_require_encryption = false
s2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
default_iteration_count = 1000 -- test only: SCRAM login in ~60 ms instead of ~500 ms
${renderStorage(o.storage, o.dir)}
${o.pluginPaths.length ? `plugin_paths = { ${o.pluginPaths.map(lua).join("; ")} }` : ""}
log = {
\t{ levels = { min = ${lua(o.logLevel ?? "debug")} }, to = "file", filename = ${lua(join(o.dir, "prosody.log"))} };
\t{ levels = { min = "info" }, to = "console" };
}
${o.globalConfig ?? ""}

VirtualHost ${lua(o.domain)}
\tprivileged_entities = {
${priv.join("\n")}
\t}
\tdelegations = {
${delegations.join("\n")}
\t}
${o.hostConfig ?? ""}
${o.virtualHosts.map((v) => `\nVirtualHost ${lua(v.domain)}\n${v.config ?? ""}\n`).join("")}
${o.muc ? `Component ${lua(o.muc)} "muc"\n\trestrict_room_creation = false\n` : ""}
${o.components.map((c) => `Component ${lua(c.domain)}\n\tcomponent_secret = ${lua(c.secret)}\n\tmodules_enabled = { "privilege"; "delegation" }\n`).join("\n")}
`;
}

function renderStorage(storage: "internal" | "memory" | "sql", dir: string): string {
  // Accounts stay in files whatever the storage: prosodyctl registers users from a separate process (gone
  // with "memory"), and benchmarks write account files directly. The other stores take default_storage: a
  // `default` key in the storage table is no store's name, and Prosody ignores it.
  if (storage === "sql")
    return `default_storage = "sql"\nstorage = { accounts = "internal" }\nsql = { driver = "SQLite3", database = ${lua(join(dir, "data", "prosody.sqlite"))} }`;
  if (storage === "memory") return `default_storage = "memory"\nstorage = { accounts = "internal" }`;
  return `storage = "internal"`;
}

/** Everything a run needs once its directory, ports and config are ready. */
interface ProsodySetup {
  inst: Installation;
  version: string;
  domain: string;
  /** The run's directory, as the host sees it. */
  dir: string;
  configPath: string;
  /** The config file as Prosody sees it (differs from `configPath` in a chroot). */
  innerConfig: string;
  logFile: string;
  c2sPort: number;
  componentPort: number;
  muc: string | undefined;
  components: ResolvedComponent[];
}

/** The Prosody process of one run: started, restarted and stopped by the handle. */
interface ProsodyProcess {
  start(): Promise<void>;
  stopProcess(): Promise<void>;
  readonly running: boolean;
}

type CreateUser = Prosody["createUser"];

/** Start a throw-away Prosody. Always `await prosody.stop()` (e.g. in afterAll). */
export async function startProsody(options: ProsodyOptions = {}): Promise<Prosody> {
  const setup = await prepareProsody(options);
  const users: Record<string, ProsodyUser> = {};
  const createUser = prosodyUserCreator(setup, users);
  await createInitialUsers(createUser, options);
  const proc = prosodyProcess(setup);
  await proc.start();
  return prosodyHandle(setup, users, createUser, proc);
}

/** Check the installation, make the run's directory, pick the ports and write the config. */
async function prepareProsody(options: ProsodyOptions): Promise<ProsodySetup> {
  const domain = options.domain ?? "localhost";
  const componentOpts = [...(options.component === false ? [] : [options.component ?? {}]), ...(options.components ?? [])];
  const inst = installation(options.root, "XMPPKIT_PROSODY_ROOT");
  assertProsodyInstalled(componentOpts.length > 0, inst);
  installExitHook();
  const version = upstreamVersion(inst.packageVersion("prosody") ?? "unknown");
  const { dir, inner, pluginPaths } = prepareRunDir(inst, options.pluginPaths ?? []);
  const c2sPort = await freePort();
  let componentPort = await freePort();
  while (componentPort === c2sPort) componentPort = await freePort();
  const muc = options.muc === false ? undefined : (options.muc ?? `conference.${domain}`);
  const components = resolveComponents(componentOpts, domain);
  const configPath = join(dir, "prosody.cfg.lua");
  const innerConfig = join(inner, "prosody.cfg.lua");
  writeFileSync(
    configPath,
    renderConfig({
      dir: inner,
      c2sPort,
      componentPort,
      domain,
      muc,
      components,
      virtualHosts: options.virtualHosts ?? [],
      modules: options.modules ?? [],
      pluginPaths,
      storage: options.storage ?? "internal",
      globalConfig: options.globalConfig,
      hostConfig: options.hostConfig,
      logLevel: options.logLevel,
    }),
  );
  const logFile = join(dir, "prosody.log");
  return { inst, version, domain, dir, configPath, innerConfig, logFile, c2sPort, componentPort, muc, components };
}

/** The run's temp directory with data/ and certs/, and the plugin paths as Prosody will see them. */
function prepareRunDir(inst: Installation, paths: string[]): { dir: string; inner: string; pluginPaths: string[] } {
  // `dir` is the host's path, `inner` the same directory as Prosody sees it (they differ in a chroot).
  const { host: dir, inner } = inst.tempDir("xmppkit-prosody-");
  mkdirSync(join(dir, "data"), { recursive: true });
  mkdirSync(join(dir, "certs"), { recursive: true });
  // A chroot sees none of the host's files: companion modules are copied into the run's directory.
  const pluginPaths = paths.map((path, i) => {
    if (inst.root === "/") return path;
    cpSync(path, join(dir, "plugins", String(i)), { recursive: true });
    return join(inner, "plugins", String(i));
  });
  return { dir, inner, pluginPaths };
}

/** Default domains (`gateway.<domain>`, `component2.<domain>`…) and random secrets. */

/** `createUser` for the handle: prosodyctl register; users of the main host are added to `users`. */
function prosodyUserCreator(setup: ProsodySetup, users: Record<string, ProsodyUser>): CreateUser {
  const { inst, innerConfig, domain } = setup;
  return async function createUser(username: string, password = `${username}pw`, host = domain): Promise<ProsodyUser> {
    try {
      await run(...inst.command("prosodyctl", ["--config", innerConfig, "register", username, host, password]));
    } catch (err) {
      throw new Error(`prosodyctl register ${username}@${host} failed: ${(err as { stderr?: string }).stderr ?? String(err)}`);
    }
    const user = { username, jid: `${username}@${host}`, password };
    if (host === domain) users[username] = user;
    return user;
  };
}

/** The users of the options: the main host's all at once, then each VirtualHost's in turn. */
async function createInitialUsers(createUser: CreateUser, options: ProsodyOptions): Promise<void> {
  const wanted = options.users ?? { alice: "alicepw", bob: "bobpw" };
  await Promise.all(Object.entries(wanted).map(([u, p]) => createUser(u, p)));
  for (const v of options.virtualHosts ?? []) {
    await Promise.all(Object.entries(v.users ?? {}).map(([u, p]) => createUser(u, p, v.domain)));
  }
}

/** `prosody -F` in the foreground: start waits until it listens, stopProcess sends SIGTERM (SIGKILL after 5 s). */
function prosodyProcess(setup: ProsodySetup): ProsodyProcess {
  const { inst, dir, innerConfig, c2sPort, componentPort, components } = setup;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  async function start() {
    const out = openSync(join(dir, "console.log"), "a");
    const proc = spawn(...inst.command("prosody", ["-F", "--config", innerConfig]), { stdio: ["ignore", out, out] });
    child = proc;
    running.add(proc);
    let alive = true;
    exited = new Promise<void>((resolve) => {
      proc.once("exit", () => {
        alive = false;
        running.delete(proc);
        resolve();
      });
    });
    try {
      await waitForPort(c2sPort, 10_000, () => alive);
      if (components.length) await waitForPort(componentPort, 10_000, () => alive);
    } catch (err) {
      proc.kill("SIGKILL");
      const consoleLog = existsSync(join(dir, "console.log")) ? readFileSync(join(dir, "console.log"), "utf8") : "";
      throw new Error(`prosody did not start (${(err as Error).message}):\n${consoleLog.slice(-2000)}`);
    }
  }

  async function stopProcess() {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill("SIGTERM");
    const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 5000).unref());
    if ((await Promise.race([exited, timeout])) === "timeout") {
      proc.kill("SIGKILL");
      await exited;
    }
  }

  return {
    start,
    stopProcess,
    get running() {
      return !!child && child.exitCode === null && child.signalCode === null;
    },
  };
}

/** The object startProsody() returns. */
function prosodyHandle(setup: ProsodySetup, users: Record<string, ProsodyUser>, createUser: CreateUser, proc: ProsodyProcess): Prosody {
  const { dir, logFile, c2sPort, componentPort } = setup;
  const c2s = { host: "127.0.0.1", port: c2sPort, service: `xmpp://127.0.0.1:${c2sPort}` };
  const componentService = `xmpp://127.0.0.1:${componentPort}`;
  let stopped = false;
  const publicComponents = setup.components.map((c) => ({ domain: c.domain, secret: c.secret, service: componentService }));

  return {
    kind: "prosody",
    version: setup.version,
    root: setup.inst.root,
    domain: setup.domain,
    dir,
    configPath: setup.configPath,
    logFile,
    c2s,
    get component() {
      const c = publicComponents[0];
      if (!c) throw new Error("this Prosody has no external component (options.component was false)");
      return c;
    },
    components: publicComponents,
    get secret() {
      const c = publicComponents[0];
      if (!c) throw new Error("this Prosody has no external component (options.component was false)");
      return c.secret;
    },
    muc: setup.muc,
    users,
    createUser,
    async restart() {
      await proc.stopProcess();
      await proc.start();
    },
    async stop(opts = {}) {
      if (stopped) return;
      stopped = true;
      await proc.stopProcess();
      if (!opts.keep && !process.env.XMPPKIT_KEEP_PROSODY) rmSync(dir, { recursive: true, force: true });
    },
    logTail(lines = 80) {
      if (!existsSync(logFile)) return "";
      return readFileSync(logFile, "utf8").split("\n").slice(-lines).join("\n");
    },
    get running() {
      return proc.running;
    },
  };
}
