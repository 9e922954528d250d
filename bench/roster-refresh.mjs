// bench/roster-refresh: how fast the gateway mirrors a web app's rosters into a real Prosody, against Prosody's
// own community module mod_http_roster_admin doing the same job in the same run.
//
//   pnpm --filter @xmppkit/bench run roster-refresh --original DIR [--users 100] [--contacts 50] [--online 100]
//     [--rounds 5] [--configs original,internal:on,sql:on,internal:off] [--concurrency 32] [--pipeline 32]
//     [--scale 100,1000,10000] [--presence online,offline] [--scale-contacts 50] [--scale-rounds 1] [--scale-anchor]
//
// The anchor is Prosody's community module mod_http_roster_admin (MPL-2.0, from
// https://hg.prosody.im/prosody-modules/). It is not shipped here: `--original DIR` points at a checkout (DIR
// holds mod_http_roster_admin/mod_http_roster_admin.lua, or mod_http_roster_admin.lua itself), and the module
// needs lua-cjson. It runs inside its own Prosody (mod_roster off, rosters in memory, its HTTP endpoint on a
// loopback port): it refreshes online users only (offline ones are skipped and counted as updated), fetches
// a user's roster at the client's first roster get, compares JIDs only and pushes the added and removed
// contacts (plus presence to them).
//
// Part 1, the comparison. Configurations (`--configs`): `original` (the anchor), and `<storage>:<on|off>` —
// `@xmppkit/http-roster-admin` in the gateway process (`xmppkit-gateway`, as deployed) beside a Prosody whose
// storage is internal (files), memory or sql (SQLite), with (`on`) or without (`off`) the package's companion
// module mod_xmppkit_roster_batch. Each has its own real Prosody (Debian package, log at info), `--users`
// accounts (written as files) of which `--online` are logged in with a fetched roster, so Prosody pushes every
// change to them; one local HTTP backend (the web app) serves `--contacts` contacts per user to all. All
// configurations are started first, then the rounds run interleaved, the order of the configurations rotated
// each round. In a round each configuration gets four `POST /roster_admin/refresh` of all users, each timed
// from the POST to its answer:
//   empty     — the web app's rosters are empty (not measured: it resets the rosters);
//   initial   — every contact is new;
//   changed   — every tenth contact replaced by another one (5 of 50: 5 removals and 5 additions per user);
//   unchanged — nothing to do.
// After the first `initial` of each configuration, a roster get by two online clients must show every contact.
// (With `--online` below `--users`, the anchor skips the offline users: it does less work than the gateway.)
// Reported per configuration and phase (medians over rounds): the time and its ratio to the anchor's median
// of the same phase in this run (÷ original), Prosody's and the gateway's CPU (/proc/<pid>/stat), the
// gateway's CPU per user, the roster sets it sent (from its /metrics; a batch or a single item; the
// `unchanged` phase may need none), Prosody's CPU per set, and the roster items pushed to the online clients.
//
// Part 2, the scale (only with `--scale N1,N2,…`): for each N and each `--presence` (online: N clients logged
// in, 50 logins at a time, each with its roster fetched; offline: nobody logged in), a fresh Prosody (file
// storage, companion module), the gateway with http-roster-admin and N accounts; then `--scale-rounds`
// rounds of initial / changed / unchanged (`--scale-contacts` contacts per user), each ONE refresh naming
// all N users. Reported: the time of the logins, per phase the time, per user the time, the gateway's and
// Prosody's CPU, roster sets and pushed items, then the gateway's VmRSS and VmHWM and Prosody's VmRSS
// (/proc/<pid>/status), and for `online` this process's heap after the logins and its VmHWM so far (it holds
// the N clients); and the curve: per-user time at the largest N ÷ per-user time at the smallest N, per
// presence and phase. Everything is stopped between sizes; a size that fails is reported and the next runs.
// `--scale-anchor` (with --original) also runs the anchor at each N, all N users online (it refreshes only
// online users), one refresh per phase, its per-user time and Prosody CPU printed as they come, and its curve.
//
// `--configs none` runs the scale only (no --original needed then, unless --scale-anchor). The web app sends groups as a set
// ({"Group 0": true}), the form both modules take.
//
// Output: the tables, then one JSON line {"bench":"roster-refresh", …, results, scale}.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { cpus, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { getHeapStatistics } from "node:v8";
import { freePort, loginClient, startHttpBackend, startProsody } from "@xmppkit/testing";
import { sleep, startGatewayProcess, TOKEN } from "./lib/gateway-process.mjs";

const { values: args } = parseArgs({
  options: {
    original: { type: "string" },
    users: { type: "string", default: "100" },
    contacts: { type: "string", default: "50" },
    online: { type: "string" },
    rounds: { type: "string", default: "5" },
    configs: { type: "string", default: "original,internal:on,sql:on,internal:off" },
    concurrency: { type: "string", default: "32" },
    pipeline: { type: "string", default: "32" },
    scale: { type: "string" },
    presence: { type: "string", default: "online,offline" },
    "scale-contacts": { type: "string" },
    "scale-rounds": { type: "string", default: "1" },
    "prosody-gc": { type: "string", default: "default" },
    "scale-anchor": { type: "boolean", default: false },
  },
});

/**
 * Every Prosody's garbage collector (`--prosody-gc`): "default" (Prosody's incremental mode, threshold 105 %)
 * or "generational" (Lua 5.4's generational mode, Prosody's `gc = { mode = "generational" }`).
 */
const GC_CONFIG = { default: "", generational: 'gc = { mode = "generational" }' }[args["prosody-gc"]];
if (GC_CONFIG === undefined) {
  console.error(`roster-refresh: --prosody-gc is "default" or "generational" (got ${JSON.stringify(args["prosody-gc"])})`);
  process.exit(1);
}

/** Exit 1 with a message (before anything was started). */
function usage(message) {
  console.error(`roster-refresh: ${message}`);
  process.exit(1);
}
const int = (name, value, min = 0) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) usage(`--${name} must be an integer ≥ ${min} (got ${JSON.stringify(value)})`);
  return n;
};
const list = (s) =>
  (s ?? "")
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x && x !== "none");

const USERS = int("users", args.users, 1);
const CONTACTS = int("contacts", args.contacts, 1);
const ONLINE = Math.min(int("online", args.online ?? args.users), USERS);
const ROUNDS = int("rounds", args.rounds, 1);
const SCALE = list(args.scale).map((n) => int("scale", n, 1));
const PRESENCE = list(args.presence);
const SCALE_CONTACTS = int("scale-contacts", args["scale-contacts"] ?? args.contacts, 1);
const SCALE_ROUNDS = int("scale-rounds", args["scale-rounds"], 1);
const PHASES = ["initial", "changed", "unchanged"];
const PLUGINS = join(import.meta.dirname, "../packages/http-roster-admin/prosody");
/** The longest a refresh may take before the bench gives up on it: in the comparison, and at scale. */
const REFRESH_TIMEOUT_MS = 5 * 60_000;
const SCALE_REFRESH_TIMEOUT_MS = 30 * 60_000;
/** Concurrent logins. */
const LOGIN_PARALLEL = 50;

const CONFIGS = list(args.configs).map((name) => {
  if (name === "original") return { name, kind: "original" };
  const m = /^(internal|memory|sql):(on|off)$/.exec(name);
  if (!m) usage(`--configs: "${name}" is neither "original" nor <internal|memory|sql>:<on|off>`);
  return { name, kind: "gateway", storage: m[1], batch: m[2] === "on" };
});
if (new Set(CONFIGS.map((c) => c.name)).size !== CONFIGS.length) usage("--configs names a configuration twice");
for (const p of PRESENCE) if (p !== "online" && p !== "offline") usage(`--presence: "${p}" is neither online nor offline`);
if (!CONFIGS.length && !SCALE.length) usage("nothing to run: --configs is empty and --scale not given");

/** mod_http_roster_admin.lua in DIR (a prosody-modules checkout, or the module's own directory). */
function findOriginal(dir) {
  for (const p of [join(dir, "mod_http_roster_admin", "mod_http_roster_admin.lua"), join(dir, "mod_http_roster_admin.lua")]) {
    if (existsSync(p)) return resolve(p);
  }
  return undefined;
}
const HOW_TO_GET_ORIGINAL = `The anchor is Prosody's community module mod_http_roster_admin (MPL-2.0), which this repository does not ship:
  hg clone https://hg.prosody.im/prosody-modules/ /srv/prosody-modules
  apt-get install lua-cjson          # the module requires it
  node roster-refresh.mjs --original /srv/prosody-modules …
(DIR may also be a directory that holds mod_http_roster_admin.lua itself.)`;
const needsOriginal = CONFIGS.some((c) => c.kind === "original") || (args["scale-anchor"] && SCALE.length > 0);
const ORIGINAL_LUA = needsOriginal ? (args.original ? findOriginal(args.original) : undefined) : undefined;
if (needsOriginal && !args.original) usage(`--original DIR is required.\n${HOW_TO_GET_ORIGINAL}`);
if (needsOriginal && !ORIGINAL_LUA) usage(`no mod_http_roster_admin.lua in ${args.original} (nor in its mod_http_roster_admin/).\n${HOW_TO_GET_ORIGINAL}`);

// ——— helpers ———

const username = (i) => `user${i}`;
const names = (n) => Array.from({ length: n }, (_, i) => username(i));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const round2 = (x) => (Number.isFinite(x) ? +x.toFixed(2) : null);
const MiB = (bytes) => Math.round(bytes / 2 ** 20);
const TICK_MS = 1000 / 100; // USER_HZ
/** CPU time (user + system) of a process so far, in ms. */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}
/** A `Vm…:` line of /proc/<pid>/status, in MiB. */
function vmMiB(pid, field) {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Math.round(Number(m[1]) / 1024) : null;
}
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
/** This process's heap (and its limit) and RSS. */
function benchMemory() {
  const { heapUsed, rss } = process.memoryUsage();
  return `heap ${MiB(heapUsed)} MiB of ${MiB(getHeapStatistics().heap_size_limit)} MiB, RSS ${MiB(rss)} MiB`;
}

/** Things to stop, last started first; each failure is reported and the rest still run. */
class Scope {
  #fns = [];
  add(fn) {
    this.#fns.push(fn);
  }
  async close() {
    while (this.#fns.length) {
      const fn = this.#fns.pop();
      try {
        await fn();
      } catch (err) {
        console.error(`roster-refresh: cleanup failed: ${err?.message ?? err}`);
      }
    }
  }
}

/** Gateway processes still running: killed if this process exits without stopping them. */
const gatewayChildren = new Set();
/** Prosodys still running: their temp directories are removed if this process exits without stopping them. */
const prosodyDirs = new Set();
process.on("exit", () => {
  for (const child of gatewayChildren) child.kill("SIGKILL");
  for (const dir of prosodyDirs) rmSync(dir, { recursive: true, force: true });
});
// Interrupted: exit, so that the exit hooks (these and @xmppkit/testing's for Prosody) kill what is running.
for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => process.exit(130));
/** Children of this process whose command line holds `needle` (a gateway that never became healthy). */
function killChildrenWith(needle) {
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const ppid = Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")[1]);
      if (ppid === process.pid && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(needle)) process.kill(Number(pid), "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
}

/** POST JSON over a fresh connection; the status and the body as text. No fetch: its 5-minute header timeout is too short at scale. */
function postJson(url, body, headers = {}, timeoutMs = REFRESH_TIMEOUT_MS) {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: "POST", agent: false, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data), ...headers } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode, text }));
        res.on("error", reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs / 1000} s`)));
    req.on("error", reject);
    req.end(data);
  });
}

/** The Prosody version the runs used (from the Debian package). */
let prosodyVersion = null;

// ——— the web app ———

/** What the web app answers: set before each refresh. */
const web = { phase: "empty", round: 0, contacts: CONTACTS };
function webRoster(user) {
  if (web.phase === "empty") return {};
  const out = {};
  const n = Number(user.slice(4));
  for (let j = 0; j < web.contacts; j++) {
    // "changed" (and "unchanged" after it): every tenth contact replaced by another one.
    const replaced = web.phase !== "initial" && j % 10 === 0;
    const id = (n + j + web.round * 7) % 5000;
    // Groups as a set ({"name": true}): the form both modules take (the original iterates the object's keys).
    out[replaced ? `other${id}@example.net` : `contact${id}@example.com`] = { name: `Contact ${j}`, groups: { [`Group ${j % 5}`]: true } };
  }
  return out;
}

// ——— clients ———

/**
 * Log `users` in, LOGIN_PARALLEL at a time, each fetching its roster (a failed login is tried once more); the
 * clients are stopped with `scope`. `clients.retries` counts the second tries.
 */
async function loginAll(prosody, users, scope) {
  const clients = [];
  clients.retries = 0;
  scope.add(() => stopClients(clients));
  for (let i = 0; i < users.length; i += LOGIN_PARALLEL) {
    const settled = await Promise.allSettled(
      users.slice(i, i + LOGIN_PARALLEL).map(async (u) => {
        const c = await loginClient(prosody, u, { password: "pw" }).catch(() => {
          clients.retries += 1;
          return loginClient(prosody, u, { password: "pw" });
        });
        clients.push(c);
        await c.fetchRoster();
      }),
    );
    const failed = settled.find((s) => s.status === "rejected");
    if (failed) throw new Error(`login failed after ${clients.length} clients: ${failed.reason?.message ?? failed.reason}`);
  }
  return clients;
}
async function stopClients(clients) {
  for (let i = 0; i < clients.length; i += 500) await Promise.all(clients.slice(i, i + 500).map((c) => c.stop()));
  clients.length = 0;
}
const itemsIn = (iq) => iq.getChild("query")?.children.filter((c) => typeof c !== "string" && c.name === "item").length ?? 0;
/** Roster items pushed to `clients` since the last call, once no more arrive; what they received is dropped. */
async function settlePushes(clients) {
  if (!clients.length) return 0;
  const count = () => clients.reduce((n, c) => n + c.rosterPushes.length, 0);
  // Prosody sent them before it answered; wait until this process has read them all (no new one for 150 ms).
  const deadline = performance.now() + 120_000;
  let [last, stable] = [count(), 0];
  while (stable < 3 && performance.now() < deadline) {
    await sleep(50);
    const now = count();
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
  let items = 0;
  for (const c of clients) {
    for (const push of c.rosterPushes) items += itemsIn(push);
    c.rosterPushes.length = 0;
    c.received.length = 0;
  }
  return items;
}
/** A roster get by two online clients (or a client logged in for it) must show `expected` contacts. */
async function verifyRosters(target, expected) {
  const picks = [...new Set([target.clients[0], target.clients.at(-1)].filter(Boolean))];
  let temp;
  if (!picks.length) {
    temp = await loginClient(target.prosody, username(0), { password: "pw", presence: false });
    picks.push(temp);
  }
  try {
    const found = [];
    for (const c of picks) {
      const n = itemsIn(await c.fetchRoster());
      found.push(n);
      if (n !== expected) throw new Error(`${target.name}: ${c.jid} has ${n} contacts after "initial", expected ${expected}`);
    }
    return found;
  } finally {
    await temp?.stop();
    for (const c of picks) c.received.length = 0;
  }
}

// ——— the two kinds of target ———

/** Prosody's mod_http_roster_admin in its own Prosody, with `online` of `users` logged in. */
async function startOriginal(backend, pluginDir, users, online, scope) {
  const httpPort = await freePort();
  const prosody = await startProsody({
    users: {},
    muc: false,
    component: false,
    logLevel: "info",
    storage: "memory",
    pluginPaths: [pluginDir],
    modules: ["http_roster_admin"],
    globalConfig: `${GC_CONFIG}
-- The anchor: mod_http_roster_admin answers roster gets itself (mod_roster off) and keeps rosters in memory.
modules_disabled = { "s2s"; "offline"; "tls"; "roster" }
http_ports = { ${httpPort} }
http_interfaces = { "127.0.0.1" }
https_ports = { }
http_default_host = "localhost"
http_roster_url = "${backend.url}/contacts/%s"
`,
  });
  adopt(prosody, users, scope);
  const base = `http://127.0.0.1:${httpPort}/roster_admin`;
  // The module loaded (it needs lua-cjson) and answers: a refresh of a user who is not online.
  const probe = await fetch(`${base}/refresh/nobody`).then(
    async (r) => `${r.status} ${await r.text()}`,
    (err) => String(err),
  );
  if (!probe.startsWith("200 ") || !probe.includes('"ok"')) {
    throw new Error(`mod_http_roster_admin does not answer at ${base} (${probe.slice(0, 200)}); is lua-cjson installed?\n${prosody.logTail(20)}`);
  }
  const clients = await loginAll(prosody, names(online), scope);
  return {
    prosody,
    prosodyPid: Number(readFileSync(join(prosody.dir, "prosody.pid"), "utf8")),
    clients,
    gateway: undefined,
    refreshUrl: `${base}/refresh`,
    headers: {},
    sets: async () => null,
    failures: () => prosody.logTail(5),
  };
}

/** Prosody with `storage` (and the companion module when `batch`), the gateway with http-roster-admin, `online` of `users` logged in. */
async function startGateway(backend, { storage, batch, maxUsers }, users, online, scope) {
  const prosody = await startProsody({
    users: {},
    muc: false,
    logLevel: "info",
    storage,
    globalConfig: GC_CONFIG,
    ...(batch ? { pluginPaths: [PLUGINS], modules: ["xmppkit_roster_batch"] } : {}),
  });
  adopt(prosody, users, scope);
  const yaml = `modules_enabled: [http-roster-admin]
http-roster-admin:
  http_roster_url: ${backend.url}/contacts/%s
  http_roster_concurrency: ${args.concurrency}
  http_roster_pipeline: ${args.pipeline}
  http_roster_sync_on_login: false
  http_roster_batch: ${batch ? "true" : "false"}
${maxUsers > 10_000 ? `  http_roster_max_users: ${maxUsers}\n` : ""}`;
  let gateway;
  try {
    gateway = await startGatewayProcess(prosody, yaml);
  } catch (err) {
    killChildrenWith(join(prosody.dir, "gateway.yaml"));
    throw err;
  }
  gatewayChildren.add(gateway.child);
  scope.add(async () => {
    await gateway.stop();
    gatewayChildren.delete(gateway.child);
  });
  if (batch) {
    for (let i = 0; i < 100 && !gateway.log.includes("the server batches roster sets"); i++) await sleep(50);
    if (!gateway.log.includes("the server batches roster sets")) throw new Error("the gateway did not find mod_xmppkit_roster_batch");
  }
  const loginStarted = performance.now();
  const clients = await loginAll(prosody, names(online), scope);
  const loginMs = performance.now() - loginStarted;
  return {
    prosody,
    prosodyPid: Number(readFileSync(join(prosody.dir, "prosody.pid"), "utf8")),
    clients,
    loginMs,
    gateway,
    refreshUrl: `${gateway.base}/roster_admin/refresh`,
    headers: { authorization: `Bearer ${TOKEN}` },
    async sets() {
      let n = 0;
      for (const m of (await gateway.get("/metrics")).matchAll(/^xmppkit_http_roster_admin_roster_sets_total(?:\{[^}]*\})? (\d+)/gm)) n += Number(m[1]);
      return n;
    },
    failures: () =>
      gateway.log
        .split("\n")
        .filter((l) => l.includes("roster sync failed"))
        .slice(-3)
        .join("\n"),
  };
}

/** A Prosody of this run: stopped with `scope` (and on a signal), its accounts written. */
function adopt(prosody, users, scope) {
  prosodyDirs.add(prosody.dir);
  scope.add(async () => {
    await prosody.stop();
    prosodyDirs.delete(prosody.dir);
  });
  prosodyVersion ??= prosody.version;
  writeAccounts(prosody, users);
}

/** Accounts as files (prosodyctl takes ~0.3 s each); the running server reads them on demand. */
function writeAccounts(prosody, users) {
  const accounts = join(prosody.dir, "data", "localhost", "accounts");
  mkdirSync(accounts, { recursive: true });
  for (let i = 0; i < users; i++) writeFileSync(join(accounts, `${username(i)}.dat`), `return {\n\t["password"] = "pw";\n};\n`);
}

/** One refresh of `users` with the web app at `phase`: the time, the CPU of Prosody and the gateway, roster sets, pushed items. */
async function measure(target, users, phase, timeoutMs = REFRESH_TIMEOUT_MS) {
  web.phase = phase;
  const gatewayPid = target.gateway?.child.pid;
  const s0 = await target.sets();
  const [p0, g0] = [cpuMs(target.prosodyPid), gatewayPid ? cpuMs(gatewayPid) : 0];
  const started = performance.now();
  const res = await postJson(target.refreshUrl, users, target.headers, timeoutMs);
  const ms = performance.now() - started;
  const [p1, g1] = [cpuMs(target.prosodyPid), gatewayPid ? cpuMs(gatewayPid) : 0];
  let body;
  try {
    body = JSON.parse(res.text);
  } catch {
    body = undefined;
  }
  if (res.status !== 200 || !body || body.errors || body.updated !== users.length) {
    throw new Error(`${target.name} ${phase}: HTTP ${res.status} ${res.text.slice(0, 300)}\n${target.failures()}`);
  }
  if (target.gateway?.crashes) throw new Error(`${target.name}: the gateway exited:\n${target.gateway.log.slice(-2000)}`);
  const s1 = await target.sets();
  const pushes = await settlePushes(target.clients);
  return { ms, prosodyCpu: p1 - p0, gatewayCpu: gatewayPid ? g1 - g0 : null, sets: s1 === null ? null : s1 - s0, pushes };
}

// ——— part 1: the configurations, rounds interleaved ———

async function runComparison(backend, pluginDir) {
  const scope = new Scope();
  const targets = [];
  try {
    web.phase = "empty";
    web.contacts = CONTACTS;
    for (const spec of CONFIGS) {
      const started = performance.now();
      const t =
        spec.kind === "original"
          ? await startOriginal(backend, pluginDir, USERS, ONLINE, scope)
          : await startGateway(backend, { ...spec, maxUsers: USERS }, USERS, ONLINE, scope);
      targets.push({ ...spec, ...t, samples: Object.fromEntries(PHASES.map((p) => [p, []])), verified: undefined });
      console.error(`roster-refresh: ${spec.name} ready (${ONLINE} online) in ${seconds(performance.now() - started)}`);
    }
    const all = names(USERS);
    for (let round = 0; round < ROUNDS; round++) {
      const k = round % targets.length;
      const order = [...targets.slice(k), ...targets.slice(0, k)];
      web.round = round;
      for (const t of order) {
        await measure(t, all, "empty");
        for (const phase of PHASES) {
          t.samples[phase].push(await measure(t, all, phase));
          if (phase === "initial" && !t.verified) t.verified = await verifyRosters(t, CONTACTS);
        }
      }
      console.error(`roster-refresh: round ${round + 1}/${ROUNDS} (${order.map((t) => t.name).join(", ")})`);
    }
  } finally {
    await scope.close();
  }
  const rows = [];
  for (const t of targets) {
    for (const phase of PHASES) {
      const s = t.samples[phase];
      const ms = median(s.map((x) => x.ms));
      const prosodyCpu = median(s.map((x) => x.prosodyCpu));
      const gatewayCpu = t.gateway ? median(s.map((x) => x.gatewayCpu)) : null;
      const sets = t.gateway ? median(s.map((x) => x.sets)) : null;
      rows.push({
        config: t.name,
        phase,
        ms: Math.round(ms),
        "÷ original": null,
        prosodyCpuMs: Math.round(prosodyCpu),
        prosodyShare: `${Math.round((100 * prosodyCpu) / ms)} %`,
        gatewayCpuMs: gatewayCpu === null ? null : Math.round(gatewayCpu),
        gatewayCpuPerUserMs: gatewayCpu === null ? null : round2(gatewayCpu / USERS),
        sets,
        prosodyUsPerSet: sets ? Math.round((1000 * prosodyCpu) / sets) : null,
        pushes: median(s.map((x) => x.pushes)),
        msRounds: s.map((x) => Math.round(x.ms)),
        verified: phase === "initial" ? t.verified : undefined,
      });
    }
  }
  for (const r of rows) {
    const anchor = rows.find((a) => a.config === "original" && a.phase === r.phase);
    if (anchor) r["÷ original"] = round2(r.ms / Math.max(anchor.ms, 1));
  }
  return rows;
}

// ——— part 2: the scale ———

async function runScale(backend, n, presence) {
  const scope = new Scope();
  const out = { users: n, presence, contacts: SCALE_CONTACTS, rounds: SCALE_ROUNDS };
  try {
    web.phase = "empty";
    web.contacts = SCALE_CONTACTS;
    const t = await startGateway(backend, { storage: "internal", batch: true, maxUsers: n }, n, presence === "online" ? n : 0, scope).catch((err) => {
      // Say how big this process was when logins fail (10,000 xmpp.js clients in one process).
      throw new Error(`${err?.message ?? err} (this process: ${benchMemory()})`);
    });
    t.name = `scale ${n} ${presence}`;
    if (presence === "online") {
      const mem = process.memoryUsage();
      out.loginMs = Math.round(t.loginMs);
      out.loginRetries = t.clients.retries;
      out.benchHeapMiB = MiB(mem.heapUsed);
      out.benchRssMiB = MiB(mem.rss);
      console.log(
        `scale ${n} online: ${n} logins (${LOGIN_PARALLEL} at a time, roster fetched) in ${seconds(t.loginMs)}, ${(t.loginMs / n).toFixed(1)} ms each${t.clients.retries ? ` (${t.clients.retries} tried twice)` : ""}; this process (the ${n} clients and the web app): ${benchMemory()}`,
      );
      if (mem.heapUsed > 0.7 * getHeapStatistics().heap_size_limit) {
        console.log(`scale ${n} online: WARNING: this process uses over 70 % of its heap limit; run it with node --max-old-space-size=… for more clients`);
      }
    }
    const all = names(n);
    const samples = Object.fromEntries(PHASES.map((p) => [p, []]));
    for (let round = 0; round < SCALE_ROUNDS; round++) {
      web.round = round;
      if (round > 0) await measure(t, all, "empty", SCALE_REFRESH_TIMEOUT_MS);
      for (const phase of PHASES) {
        samples[phase].push(await measure(t, all, phase, SCALE_REFRESH_TIMEOUT_MS));
        backend.requests.length = 0;
        if (phase === "initial" && round === 0) out.verified = await verifyRosters(t, SCALE_CONTACTS);
      }
    }
    out.phases = PHASES.map((phase) => {
      const s = samples[phase];
      const ms = median(s.map((x) => x.ms));
      return {
        phase,
        ms: Math.round(ms),
        msPerUser: round2(ms / n),
        gatewayCpuMsPerUser: round2(median(s.map((x) => x.gatewayCpu)) / n),
        prosodyCpuMsPerUser: round2(median(s.map((x) => x.prosodyCpu)) / n),
        sets: median(s.map((x) => x.sets)),
        pushes: median(s.map((x) => x.pushes)),
        msRounds: s.map((x) => Math.round(x.ms)),
      };
    });
    out.gatewayRssMiB = vmMiB(t.gateway.child.pid, "VmRSS");
    out.gatewayHwmMiB = vmMiB(t.gateway.child.pid, "VmHWM");
    out.prosodyRssMiB = vmMiB(t.prosodyPid, "VmRSS");
    if (presence === "online") out.benchHwmMiB = vmMiB(process.pid, "VmHWM");
  } catch (err) {
    out.error = err?.message ?? String(err);
    console.log(`scale ${n} ${presence}: FAILED: ${out.error}`);
  } finally {
    await scope.close();
  }
  return out;
}

/**
 * The anchor at scale: Prosody's mod_http_roster_admin with all `n` users online (it refreshes online users
 * only), the same three phases; its own curve says what Prosody's side costs as N grows.
 */
async function runAnchorScale(backend, pluginDir, n) {
  const scope = new Scope();
  const out = { users: n, presence: "online", config: "original" };
  try {
    web.phase = "empty";
    web.contacts = SCALE_CONTACTS;
    web.round = 0;
    const t = await startOriginal(backend, pluginDir, n, n, scope);
    const all = names(n);
    out.phases = [];
    for (const phase of PHASES) {
      // The module never answers a refresh where one of its web requests failed (all N go out at once).
      const m = await measure(t, all, phase, Math.max(REFRESH_TIMEOUT_MS, n * 60));
      backend.requests.length = 0;
      const row = { phase, ms: Math.round(m.ms), msPerUser: round2(m.ms / n), prosodyCpuMsPerUser: round2(m.prosodyCpu / n), pushes: m.pushes };
      out.phases.push(row);
      console.log(`anchor scale ${n} online ${phase}: ${row.ms} ms, ${row.msPerUser} ms per user, Prosody ${row.prosodyCpuMsPerUser} ms CPU per user`);
    }
    out.prosodyRssMiB = vmMiB(t.prosodyPid, "VmRSS");
  } catch (err) {
    out.error = err?.message ?? String(err);
    console.log(`anchor scale ${n}: FAILED: ${out.error}`);
  } finally {
    await scope.close();
  }
  return out;
}

// ——— run ———

const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const top = new Scope();
let results = [];
const scale = [];
const curve = [];
const anchorScale = [];
try {
  const backend = await startHttpBackend((req) => ({ body: webRoster(decodeURIComponent(req.url.split("/").pop())) }));
  top.add(() => backend.close());
  // Only the one module in the anchor's plugin path: a full prosody-modules checkout would also shadow the
  // installation's mod_privilege and the rest.
  let pluginDir;
  if (ORIGINAL_LUA) {
    pluginDir = mkdtempSync(join(tmpdir(), "roster-refresh-original-"));
    const dir = pluginDir;
    const remove = () => rmSync(dir, { recursive: true, force: true });
    top.add(remove);
    process.once("exit", remove);
    mkdirSync(join(pluginDir, "mod_http_roster_admin"));
    symlinkSync(ORIGINAL_LUA, join(pluginDir, "mod_http_roster_admin", "mod_http_roster_admin.lua"));
  }
  if (CONFIGS.length) {
    results = await runComparison(backend, pluginDir);
    backend.requests.length = 0;
    console.log(`\nroster-refresh: ${USERS} users × ${CONTACTS} contacts, ${ONLINE} online, ${ROUNDS} rounds interleaved (medians)`);
    console.log(`machine: ${machine}; Prosody ${prosodyVersion}, its GC: ${args["prosody-gc"]}`);
    if (ORIGINAL_LUA) console.log(`anchor: Prosody's mod_http_roster_admin from ${ORIGINAL_LUA}`);
    console.table(results.map(({ msRounds, verified, ...r }) => r));
  }
  for (const n of SCALE) {
    for (const presence of PRESENCE) {
      console.error(`roster-refresh: scale ${n} ${presence}…`);
      scale.push(await runScale(backend, n, presence));
    }
    if (pluginDir && args["scale-anchor"] && PRESENCE.includes("online")) {
      console.error(`roster-refresh: anchor scale ${n} online…`);
      anchorScale.push(await runAnchorScale(backend, pluginDir, n));
    }
  }
  if (SCALE.length) {
    console.log(`\nroster-refresh scale: ${SCALE_CONTACTS} contacts per user, ${SCALE_ROUNDS} round(s), one refresh of all users per phase`);
    console.log(`machine: ${machine}; Prosody GC: ${args["prosody-gc"]}`);
    console.table(
      scale.flatMap((s) =>
        s.error
          ? [{ users: s.users, presence: s.presence, phase: "FAILED", error: s.error.slice(0, 120) }]
          : s.phases.map(({ msRounds, ...p }) => ({ users: s.users, presence: s.presence, ...p })),
      ),
    );
    console.table(
      scale
        .filter((s) => !s.error)
        .map((s) => ({
          users: s.users,
          presence: s.presence,
          loginS: s.loginMs === undefined ? null : +(s.loginMs / 1000).toFixed(1),
          gatewayRssMiB: s.gatewayRssMiB,
          gatewayHwmMiB: s.gatewayHwmMiB,
          prosodyRssMiB: s.prosodyRssMiB,
          benchHeapMiB: s.benchHeapMiB ?? null,
          benchHwmMiB: s.benchHwmMiB ?? null,
        })),
    );
    for (const presence of PRESENCE) {
      const ok = scale.filter((s) => s.presence === presence && !s.error).sort((a, b) => a.users - b.users);
      if (ok.length < 2) continue;
      const [small, large] = [ok[0], ok.at(-1)];
      for (const phase of PHASES) {
        const a = small.phases.find((p) => p.phase === phase).ms / small.users;
        const b = large.phases.find((p) => p.phase === phase).ms / large.users;
        curve.push({ presence, phase, from: small.users, to: large.users, "per-user ms ratio": round2(b / a), "≤ 1.5": b / a <= 1.5 ? "yes" : "no" });
      }
    }
    const anchorOk = anchorScale.filter((s) => !s.error).sort((a, b) => a.users - b.users);
    if (anchorOk.length) {
      console.log("the anchor (mod_http_roster_admin, all users online), per user:");
      console.table(anchorOk.flatMap((s) => s.phases.map((p) => ({ users: s.users, ...p, prosodyRssMiB: s.prosodyRssMiB }))));
    }
    if (anchorOk.length >= 2) {
      const [small, large] = [anchorOk[0], anchorOk.at(-1)];
      for (const phase of PHASES) {
        const a = small.phases.find((p) => p.phase === phase).ms / small.users;
        const b = large.phases.find((p) => p.phase === phase).ms / large.users;
        curve.push({
          presence: "online (anchor)",
          phase,
          from: small.users,
          to: large.users,
          "per-user ms ratio": round2(b / a),
          "≤ 1.5": b / a <= 1.5 ? "yes" : "no",
        });
      }
    }
    if (curve.length) {
      console.log("the curve: per-user time at the largest N ÷ at the smallest N");
      console.table(curve);
    }
  }
} catch (err) {
  console.error(`roster-refresh failed: ${err?.stack ?? err}`);
  process.exitCode = 1;
} finally {
  await top.close();
}
console.log(
  JSON.stringify({
    bench: "roster-refresh",
    machine,
    users: USERS,
    contacts: CONTACTS,
    online: ONLINE,
    rounds: ROUNDS,
    configs: CONFIGS.map((c) => c.name),
    prosody: prosodyVersion,
    anchor: ORIGINAL_LUA ? "mod_http_roster_admin" : null,
    results,
    scale: SCALE.length ? { contacts: SCALE_CONTACTS, rounds: SCALE_ROUNDS, sizes: scale, anchor: anchorScale, curve } : null,
  }),
);
// Everything was stopped above; if a socket still holds the loop, do not hang.
setTimeout(() => {
  console.error("roster-refresh: something kept the process alive; exiting");
  process.exit(process.exitCode ?? 0);
}, 10_000).unref();
