// A throw-away ejabberd (Debian 12's `ejabberd` 23.01) for end-to-end tests, the way startProsody() makes
// a Prosody: its own config dir, spool and logs in a temp dir owned by the `ejabberd` user (ejabberdctl
// `su`s to it), free loopback ports for c2s, the component listener and the HTTP API, the Erlang
// distribution on a loopback port without epmd, `registration_timeout: infinity`. Users are registered
// through the admin API (the same command as `ejabberdctl register`, without starting an Erlang VM each).
// https://docs.ejabberd.im/admin/configuration/
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { type Installation, installation, upstreamVersion } from "./installation.js";
import { freePort, waitForPort } from "./ports.js";
import type { ComponentOptions, ProsodyComponent, ProsodyUser, VirtualHostOptions } from "./prosody.js";
import { resolveComponents, type ResolvedComponent } from "./resolve-components.js";

const run = promisify(execFile);

export const EJABBERD_INSTALL_HINT = "apt-get install -y ejabberd (as root, after apt-get update)";

export interface EjabberdOptions {
  /**
   * The ejabberd installation to run: "/" for the host's packages, or the root directory of another Debian
   * installation (a chroot with bookworm-backports' ejabberd 24.12, say; run as root). Default: the environment
   * variable XMPPKIT_EJABBERD_ROOT, else "/".
   */
  root?: string;
  /** The main host (default "localhost"). */
  domain?: string;
  /** Users on the main host: name → password (default alice/alicepw, bob/bobpw). */
  users?: Record<string, string>;
  /** MUC service domain (default `conference.<domain>`); false for none. */
  muc?: string | false;
  /** The external component (default one with roster both, message outgoing, presence roster); false for none. */
  component?: ComponentOptions | false;
  /** More external components. */
  components?: ComponentOptions[];
  /** More hosts; `contactInfo` publishes XEP-0157 addresses (mod_disco server_info). */
  virtualHosts?: (Omit<VirtualHostOptions, "config"> & { contactInfo?: Record<string, string[]> })[];
  /** The component listener's `global_routes` (ejabberd's default is true; false is what operators should use). */
  globalRoutes?: boolean;
  /** Raw YAML lines appended under `modules:` (indented two spaces already). */
  modules?: string;
}

export interface Ejabberd {
  readonly kind: "ejabberd";
  /** The installation's ejabberd version ("23.01", "24.12"). */
  readonly version: string;
  /** The installation's root ("/" for the host's packages). */
  readonly root: string;
  domain: string;
  dir: string;
  /** ejabberd.log: the first place to look when a test fails. */
  logFile: string;
  c2s: { host: string; port: number; service: string };
  component: ProsodyComponent;
  secret: string;
  components: ProsodyComponent[];
  muc: string | undefined;
  users: Record<string, ProsodyUser>;
  /** The admin API (`mod_http_api`, loopback only, no credentials): `${api}/register`, `${api}/get_roster`… */
  api: string;
  /** Call an admin API command; resolves with the parsed JSON answer. */
  command(name: string, args: Record<string, unknown>): Promise<unknown>;
  createUser(username: string, password?: string, host?: string): Promise<ProsodyUser>;
  /** Stop and start again on the same ports and spool. */
  restart(): Promise<void>;
  stop(options?: { keep?: boolean }): Promise<void>;
  logTail(lines?: number): string;
  readonly running: boolean;
}

const running = new Map<ChildProcess, string>();
let exitHookInstalled = false;
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    // ejabberdctl → su → sh → beam.smp: the node name finds the whole tree.
    for (const node of running.values()) {
      try {
        execFileSync("pkill", ["-KILL", "-f", node]);
      } catch {
        // nothing left
      }
    }
  });
}

export function assertEjabberdInstalled(inst: Installation = installation(undefined, "XMPPKIT_EJABBERD_ROOT")): void {
  if (inst.has("/usr/sbin/ejabberdctl")) return;
  if (inst.root === "/") throw new Error(`ejabberd is not installed: ${EJABBERD_INSTALL_HINT}`);
  throw new Error(`ejabberd is not installed in ${inst.root}: bash scripts/backports-servers.sh ${inst.root} (as root)`);
}

const q = (s: string) => JSON.stringify(s);

/** ejabberd's mod_privilege grants for one component (its own access rule). */
function privilegeRules(components: (ComponentOptions & { domain: string })[]): string {
  const sections: Record<string, string[]> = { roster: [], message: [], presence: [] };
  components.forEach((c, i) => {
    if (c.privileges === false) return;
    const p = c.privileges ?? {};
    const rule = `component_${i}`;
    if ((p.roster ?? "both") !== "none") sections.roster!.push(`      ${p.roster ?? "both"}: ${rule}`);
    if ((p.message ?? "outgoing") !== "none") sections.message!.push(`      outgoing: ${rule}`);
    if ((p.presence ?? "roster") !== "none") sections.presence!.push(`      ${p.presence ?? "roster"}: ${rule}`);
  });
  const body = Object.entries(sections)
    .filter(([, lines]) => lines.length)
    .map(([access, lines]) => `    ${access}:\n${lines.join("\n")}`)
    .join("\n");
  return body ? `  mod_privilege:\n${body}\n` : "";
}

interface ConfigInput {
  domain: string;
  hosts: string[];
  c2sPort: number;
  componentPort: number;
  apiPort: number;
  muc: string | undefined;
  components: (ComponentOptions & { domain: string; secret: string })[];
  contactInfo: Record<string, Record<string, string[]>>;
  globalRoutes: boolean;
  modules: string;
}

/** ejabberd.yml for one run: hosts, then listeners, access, modules. */
function renderConfig(o: ConfigInput): string {
  return `# Generated by @xmppkit/testing for one test run. Loopback only, no TLS, no s2s.
hosts:
${o.hosts.map((h) => `  - ${q(h)}`).join("\n")}
loglevel: info
log_rotate_count: 0
hide_sensitive_log_data: false
${renderListeners(o)}${renderAccess(o)}${renderModules(o)}`;
}

/** c2s, the components' port and the HTTP API, on loopback. */
function renderListeners(o: ConfigInput): string {
  return `listen:
  -
    port: ${o.c2sPort}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    access: c2s
    starttls: false
    max_stanza_size: 262144
  -
    port: ${o.componentPort}
    ip: "127.0.0.1"
    module: ejabberd_service
    global_routes: ${o.globalRoutes}
    max_stanza_size: 524288
    hosts:
${o.components.map((c) => `      ${q(c.domain)}:\n        password: ${q(c.secret)}`).join("\n")}
  -
    port: ${o.apiPort}
    ip: "127.0.0.1"
    module: ejabberd_http
    request_handlers:
      /api: mod_http_api
`;
}

/** Authentication, ACLs (one per component), access rules and who may use the API. */
function renderAccess(o: ConfigInput): string {
  const acl = o.components.map((c, i) => `  component_${i}:\n    server: ${q(c.domain)}`).join("\n");
  const rules = o.components.map((_, i) => `  component_${i}:\n    allow: component_${i}`).join("\n");
  return `s2s_access: none
registration_timeout: infinity
auth_method: internal
auth_password_format: plain
disable_sasl_mechanisms:
  - "digest-md5"
  - "X-OAUTH2"
acl:
  local:
    user_regexp: ""
${acl}
access_rules:
  local:
    allow: local
  c2s:
    allow: all
  register:
    allow: all
  muc_create:
    allow: all
${rules}
api_permissions:
  "console commands":
    from:
      - ejabberd_ctl
    who: all
    what: "*"
  "loopback admin":
    who:
      ip: 127.0.0.1/8
    what: "*"
shaper_rules:
  max_user_sessions: 10
`;
}

/** Per-host contact addresses, then the modules: MUC, privileges and delegations as the components ask. */
function renderModules(o: ConfigInput): string {
  const delegations = o.components.flatMap((c, i) => (c.delegations ?? []).map((ns) => `      ${q(ns)}:\n        access: component_${i}`));
  const hostConfig = Object.entries(o.contactInfo)
    .map(
      ([host, info]) =>
        `  ${q(host)}:\n    modules:\n      mod_disco:\n        server_info:\n${Object.entries(info)
          .map(([name, urls]) => `          - modules: all\n            name: ${q(name)}\n            urls: [${urls.map(q).join(", ")}]`)
          .join("\n")}`,
    )
    .join("\n");
  return `${hostConfig ? `host_config:\n${hostConfig}\n` : ""}modules:
  mod_admin_extra: {}
  mod_disco: {}
  mod_ping: {}
  mod_roster:
    versioning: true
  mod_register:
    ip_access: all
    access: register
${o.muc ? `  mod_muc:\n    host: ${q(o.muc)}\n    access_create: muc_create\n    default_room_options:\n      persistent: false\n` : ""}${privilegeRules(o.components)}${delegations.length ? `  mod_delegation:\n    namespaces:\n${delegations.join("\n")}\n` : ""}${o.modules}
`;
}

/** Everything a run needs once its directory, ports and config are ready. */
interface EjabberdSetup {
  inst: Installation;
  version: string;
  domain: string;
  /** The run's directory, as the host sees it. */
  dir: string;
  c2sPort: number;
  componentPort: number;
  apiPort: number;
  muc: string | undefined;
  components: ResolvedComponent[];
  virtualHosts: NonNullable<EjabberdOptions["virtualHosts"]>;
  /** The Erlang node name: finds the whole process tree. */
  node: string;
  /** ejabberdctl's --config-dir/--spool/--logs, as ejabberd sees them. */
  ctl: string[];
  logFile: string;
  api: string;
}

/** The ejabberd process of one run: started, restarted and stopped by the handle. */
interface EjabberdProcess {
  start(): Promise<void>;
  stopProcess(): Promise<void>;
  readonly running: boolean;
}

type ApiCommand = Ejabberd["command"];
type CreateUser = Ejabberd["createUser"];

/** Start a throw-away ejabberd. Always `await ejabberd.stop()` (e.g. in afterAll). */
export async function startEjabberd(options: EjabberdOptions = {}): Promise<Ejabberd> {
  const setup = await prepareEjabberd(options);
  const command = apiCommand(setup.api);
  const users: Record<string, ProsodyUser> = {};
  const createUser = ejabberdUserCreator(command, setup.domain, users);
  const proc = ejabberdProcess(setup);
  await proc.start();
  const wanted = options.users ?? { alice: "alicepw", bob: "bobpw" };
  await Promise.all(Object.entries(wanted).map(([u, p]) => createUser(u, p)));
  for (const v of setup.virtualHosts) await Promise.all(Object.entries(v.users ?? {}).map(([u, p]) => createUser(u, p, v.domain)));
  return ejabberdHandle(setup, users, command, createUser, proc);
}

/** Check the installation, make the run's directory, pick the ports and write the config files. */
async function prepareEjabberd(options: EjabberdOptions): Promise<EjabberdSetup> {
  const inst = installation(options.root, "XMPPKIT_EJABBERD_ROOT");
  assertEjabberdInstalled(inst);
  installExitHook();
  const version = upstreamVersion(inst.packageVersion("ejabberd") ?? "unknown");
  const domain = options.domain ?? "localhost";
  // `dir` is the host's path, `inner` the same directory as ejabberd sees it (they differ in a chroot).
  const { host: dir, inner } = inst.tempDir("xmppkit-ejabberd-");
  for (const d of ["conf", "spool", "logs"]) mkdirSync(join(dir, d), { recursive: true });
  const [c2sPort, componentPort, apiPort, distPort] = (await distinctPorts(4)) as [number, number, number, number];
  const muc = options.muc === false ? undefined : (options.muc ?? `conference.${domain}`);
  const componentOpts = [...(options.component === false ? [] : [options.component ?? {}]), ...(options.components ?? [])];
  const components = resolveComponents(componentOpts, domain);
  const virtualHosts = options.virtualHosts ?? [];
  const node = `xmppkit_${randomBytes(5).toString("hex")}@localhost`;
  const setup: EjabberdSetup = {
    inst,
    version,
    domain,
    dir,
    c2sPort,
    componentPort,
    apiPort,
    muc,
    components,
    virtualHosts,
    node,
    ctl: ["--config-dir", join(inner, "conf"), "--spool", join(inner, "spool"), "--logs", join(inner, "logs")],
    logFile: join(dir, "logs", "ejabberd.log"),
    api: `http://127.0.0.1:${apiPort}/api`,
  };
  writeConfigFiles(setup, options, distPort);
  return setup;
}

/** Default domains (`gateway.<domain>`, `component2.<domain>`…) and random secrets. */

/** conf/ejabberd.yml, conf/ejabberdctl.cfg and conf/inetrc, then everything handed to the `ejabberd` user. */
function writeConfigFiles(setup: EjabberdSetup, options: EjabberdOptions, distPort: number): void {
  const { inst, dir, domain, virtualHosts } = setup;
  writeFileSync(
    join(dir, "conf", "ejabberd.yml"),
    renderConfig({
      domain,
      hosts: [domain, ...virtualHosts.map((v) => v.domain)],
      c2sPort: setup.c2sPort,
      componentPort: setup.componentPort,
      apiPort: setup.apiPort,
      muc: setup.muc,
      components: setup.components,
      contactInfo: Object.fromEntries(virtualHosts.filter((v) => v.contactInfo).map((v) => [v.domain, v.contactInfo!])),
      globalRoutes: options.globalRoutes ?? false,
      modules: options.modules ?? "",
    }),
  );
  writeFileSync(
    join(dir, "conf", "ejabberdctl.cfg"),
    `ERLANG_NODE=${setup.node}\nINET_DIST_INTERFACE=127.0.0.1\nERL_EPMD_ADDRESS=127.0.0.1\nERL_DIST_PORT=${distPort}\nERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"\nEJABBERD_BYPASS_WARNINGS=true\n`,
  );
  copyFileSync(inst.hostPath("/etc/ejabberd/inetrc"), join(dir, "conf", "inetrc"));
  chownTree(dir, inst);
}

/** `command` for the handle: POST to the admin API, the parsed JSON answer. */
function apiCommand(api: string): ApiCommand {
  return async function command(name: string, args: Record<string, unknown>): Promise<unknown> {
    const res = await fetch(`${api}/${name}`, { method: "POST", body: JSON.stringify(args) });
    const text = await res.text();
    if (!res.ok) throw new Error(`ejabberd API ${name}: HTTP ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
}

/** `createUser` for the handle: the API's register; users of the main host are added to `users`. */
function ejabberdUserCreator(command: ApiCommand, domain: string, users: Record<string, ProsodyUser>): CreateUser {
  return async function createUser(username: string, password = `${username}pw`, host = domain): Promise<ProsodyUser> {
    await command("register", { user: username, host, password });
    const user = { username, jid: `${username}@${host}`, password };
    if (host === domain) users[username] = user;
    return user;
  };
}

/** `ejabberdctl foreground`: start waits until it listens, stopProcess runs `ejabberdctl stop` (pkill after 10 s). */
function ejabberdProcess(setup: EjabberdSetup): EjabberdProcess {
  const { inst, dir, node, ctl } = setup;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  async function start() {
    const out = openSync(join(dir, "console.log"), "a");
    const proc = spawn(...inst.command("ejabberdctl", [...ctl, "foreground"], "ejabberd"), { stdio: ["ignore", out, out] });
    child = proc;
    running.set(proc, node);
    let alive = true;
    exited = new Promise<void>((resolve) => {
      proc.once("exit", () => {
        alive = false;
        running.delete(proc);
        resolve();
      });
    });
    try {
      for (const port of [setup.c2sPort, setup.componentPort, setup.apiPort]) await waitForPort(port, 30_000, () => alive);
    } catch (err) {
      await killTree();
      const consoleLog = existsSync(join(dir, "console.log")) ? readFileSync(join(dir, "console.log"), "utf8") : "";
      throw new Error(`ejabberd did not start (${(err as Error).message}):\n${consoleLog.slice(-2000)}`);
    }
  }

  async function killTree() {
    await run("pkill", ["-KILL", "-f", node]).catch(() => undefined);
    await exited;
  }

  async function stopProcess() {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await run(...inst.command("ejabberdctl", [...ctl, "stop"], "ejabberd")).catch(() => undefined);
    const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 10_000).unref());
    if ((await Promise.race([exited, timeout])) === "timeout") await killTree();
  }

  return {
    start,
    stopProcess,
    get running() {
      return !!child && child.exitCode === null && child.signalCode === null;
    },
  };
}

/** The object startEjabberd() returns. */
function ejabberdHandle(
  setup: EjabberdSetup,
  users: Record<string, ProsodyUser>,
  command: ApiCommand,
  createUser: CreateUser,
  proc: EjabberdProcess,
): Ejabberd {
  const { dir, logFile, c2sPort } = setup;
  const publicComponents = setup.components.map((c) => ({ domain: c.domain, secret: c.secret, service: `xmpp://127.0.0.1:${setup.componentPort}` }));
  let stopped = false;
  return {
    kind: "ejabberd",
    version: setup.version,
    root: setup.inst.root,
    domain: setup.domain,
    dir,
    logFile,
    c2s: { host: "127.0.0.1", port: c2sPort, service: `xmpp://127.0.0.1:${c2sPort}` },
    get component() {
      const c = publicComponents[0];
      if (!c) throw new Error("this ejabberd has no external component (options.component was false)");
      return c;
    },
    get secret() {
      const c = publicComponents[0];
      if (!c) throw new Error("this ejabberd has no external component (options.component was false)");
      return c.secret;
    },
    components: publicComponents,
    muc: setup.muc,
    users,
    api: setup.api,
    command,
    createUser,
    async restart() {
      await proc.stopProcess();
      await proc.start();
    },
    async stop(opts = {}) {
      if (stopped) return;
      stopped = true;
      await proc.stopProcess();
      if (!opts.keep && !process.env.XMPPKIT_KEEP_SERVER) rmSync(dir, { recursive: true, force: true });
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

async function distinctPorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

/** ejabberdctl `su`s to the installation's `ejabberd` user: everything it writes must be that user's. */
function chownTree(dir: string, inst: Installation) {
  const owner = inst.user("ejabberd");
  if (!owner) throw new Error(`no ejabberd user in ${inst.root}/etc/passwd: is ejabberd installed there?`);
  const { uid, gid } = owner;
  for (const path of [
    dir,
    join(dir, "conf"),
    join(dir, "spool"),
    join(dir, "logs"),
    join(dir, "conf", "ejabberd.yml"),
    join(dir, "conf", "ejabberdctl.cfg"),
    join(dir, "conf", "inetrc"),
  ]) {
    chownSync(path, uid, gid);
  }
  chmodSync(dir, 0o755);
}
