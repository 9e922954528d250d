// bench/startup: how long the gateway takes to be healthy, and how much memory it holds when idle, against the
// least a component with a health check can be.
//
//   pnpm --filter @xmppkit/bench startup [--rounds 10] [--idle 30] [--warmup 1] [--imports 5] [--compare DIR/dist/cli.js]
//
// A real Prosody (Debian package, started by @xmppkit/testing) with a MUC service and the gateway's XEP-0355
// delegation of urn:xmpp:raa:0, and a local web app. Each round starts, in turn (the order swapped every
// round), two processes on the same component credentials:
//   - the anchor (lib/bare-component.mjs): a bare `@xmpp/component` and a `node:http` server answering
//     /healthz 200 once the component is online;
//   - the gateway (`xmppkit-gateway --config …`, as deployed) with all six feature modules enabled:
//     http-roster-admin, track-muc-joins (one room), ping-muc, report-forward (staff: that room),
//     report-affiliations and audit-geoip, on a SQLite store.
// For each it measures the time from spawn to the first /healthz 200 (polled every --poll ms), and its RSS
// (VmRSS, and its anonymous and file-backed parts) after --idle seconds of doing nothing; then it stops it with
// SIGTERM. The first --warmup rounds (file caches, the SQLite file's migrations) are not counted. --compare
// adds a third process to every round: another build of the gateway (an older checkout's dist/cli.js, say),
// with the same config, for a before/after in one run.
//
// Then, where the time and memory go: --imports fresh processes (0 to skip) load what the gateway loads, in
// its order, one part at a time, and report each part's time and the heap it keeps (after a full GC).
//
// Prints tables and one JSON line with medians and the ratios gateway ÷ anchor.
import { spawn } from "node:child_process";
import { readFileSync, realpathSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { freePort, startHttpBackend, startProsody } from "@xmppkit/testing";
import { gatewayCli, gatewayYamlHead, sleep } from "./lib/gateway-process.mjs";
import { machine, median } from "./lib/stats.mjs";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "10" },
    idle: { type: "string", default: "30" },
    warmup: { type: "string", default: "1" },
    poll: { type: "string", default: "10" },
    imports: { type: "string", default: "5" },
    compare: { type: "string" },
  },
});
const ROUNDS = Number(args.rounds);
const IDLE_MS = Number(args.idle) * 1000;
const WARMUP = Number(args.warmup);
const POLL_MS = Number(args.poll);
const IMPORT_RUNS = Number(args.imports);
/** What the issue asks for: start → healthy ≤ 0.35 s; idle RSS ≤ 1.3 × the bare component. */
const TARGET = { startMs: 350, rssRatio: 1.3 };
const NS_RAA = "urn:xmpp:raa:0";

const here = dirname(fileURLToPath(import.meta.url));
const anchorScript = join(here, "lib/bare-component.mjs");

const backend = await startHttpBackend(() => ({ status: 404 }));
const prosody = await startProsody({ users: { mod: "modpw" }, component: { delegations: [NS_RAA] }, logLevel: "warn" });
const room = `mods@${prosody.muc}`;
const port = await freePort();
const configPath = join(prosody.dir, "gateway.yaml");
writeFileSync(
  configPath,
  `${gatewayYamlHead(prosody, { port })}storage:
  sqlite: ${join(prosody.dir, "gateway.sqlite")}
log:
  level: info
  format: json
modules_enabled: [http-roster-admin, track-muc-joins, ping-muc, report-forward, report-affiliations, audit-geoip]
http-roster-admin:
  http_roster_url: ${backend.url}/contacts/%s
track-muc-joins:
  rooms:
    - room: ${room}
      nick: abuse-desk
report-forward:
  report_forward_to_staff: [${room}, mod@${prosody.domain}]
report-affiliations:
  report_affiliations_trusted_servers: [rtbl.${prosody.domain}]
  report_affiliations_url: ${backend.url}/accounts/%s
`,
);

const kinds = {
  anchor: [anchorScript, prosody.component.service, prosody.component.domain, prosody.component.secret, String(port)],
  gateway: [gatewayCli, "--config", configPath],
  ...(args.compare ? { compare: [args.compare, "--config", configPath] } : {}),
};
const labels = {
  anchor: "bare @xmpp/component + node:http (anchor)",
  gateway: "xmppkit-gateway, six modules",
  compare: `the same, built at ${args.compare}`,
};

/** Resident memory of a process now (VmRSS: anonymous + file-backed) and at its peak (VmHWM), in MiB. */
function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
  return { rss: kb("VmRSS") / 1024, anon: kb("RssAnon") / 1024, file: kb("RssFile") / 1024, peak: kb("VmHWM") / 1024 };
}

async function healthy() {
  const r = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
  if (r) await r.arrayBuffer();
  return r?.status === 200;
}

/** One process: spawn → first /healthz 200, idle, memory, SIGTERM. */
async function measure(kind) {
  const start = performance.now();
  const child = spawn(process.execPath, kinds[kind], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const exited = new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
  let exit;
  void exited.then((e) => (exit = e));
  for (;;) {
    if (await healthy()) break;
    if (exit) throw new Error(`${kind} exited (${JSON.stringify(exit)}) before it was healthy:\n${out}`);
    if (performance.now() - start > 60_000) throw new Error(`${kind} was not healthy after 60 s:\n${out}`);
    await sleep(POLL_MS);
  }
  const startMs = performance.now() - start;
  await sleep(IDLE_MS);
  if (!(await healthy())) throw new Error(`${kind} was no longer healthy after ${IDLE_MS / 1000} s idle:\n${out}`);
  const mem = memory(child.pid);
  child.kill("SIGTERM");
  const { code } = await exited;
  if (code !== 0) throw new Error(`${kind} exited ${code} on SIGTERM:\n${out}`);
  return { startMs, rssMiB: mem.rss, anonMiB: mem.anon, fileMiB: mem.file, peakMiB: mem.peak };
}

await healthy(); // the first fetch of this process pays for undici; not the children
const results = Object.fromEntries(Object.keys(kinds).map((kind) => [kind, []]));
for (let round = 0; round < WARMUP + ROUNDS; round++) {
  // Each kind goes first (and last) in turn.
  const names = Object.keys(kinds);
  const order = names.map((_, i) => names[(i + round) % names.length]);
  for (const kind of order) {
    const m = await measure(kind);
    const counted = round >= WARMUP;
    if (counted) results[kind].push(m);
    process.stderr.write(
      `${counted ? `round ${round - WARMUP + 1}/${ROUNDS}` : "warm-up"} ${kind.padEnd(8)} healthy ${m.startMs.toFixed(0).padStart(5)} ms, idle RSS ${m.rssMiB.toFixed(1)} MiB (anonymous ${m.anonMiB.toFixed(1)}, files ${m.fileMiB.toFixed(1)}; peak ${m.peakMiB.toFixed(1)})\n`,
    );
  }
}
await prosody.stop();
await backend.close();

// Where it goes: what the gateway loads, part by part in its order, each in the same fresh process; the time of
// each part and the heap it keeps after a full GC. Run from the gateway's package, so that every name resolves
// as it does for the gateway.
const PARTS = `
const parts = [];
const settle = () => { for (let i = 0; i < 3; i++) gc(); };
async function part(name, fn) {
  settle();
  const heap = process.memoryUsage().heapUsed;
  const t = performance.now();
  await fn();
  const ms = performance.now() - t;
  settle();
  parts.push({ name, ms, heapMiB: (process.memoryUsage().heapUsed - heap) / 2 ** 20 });
}
const quiet = new (await import("node:stream")).Writable({ write: (_c, _e, cb) => cb() });
let rt;
await part("@xmpp/component", () => import("@xmpp/component"));
await part("@xmppkit/core", () => import("@xmppkit/core"));
await part("@xmppkit/runtime (and zod, its dependency)", async () => { rt = await import("@xmppkit/runtime"); });
await part("@xmppkit/gateway (yaml bundled in)", () => import("@xmppkit/gateway"));
await part("createLogger: pino", () => rt.createLogger({ format: "json", destination: quiet }));
await part("createMetrics: prom-client", () => rt.createMetrics());
await part("createHttpServer + start", async () => {
  const h = rt.createHttpServer({ listen: "127.0.0.1:0" });
  h.route({ method: "GET", path: "/healthz", auth: false, handler: () => ({ body: { status: "ok" } }) });
  await h.start();
  globalThis.keep = h;
});
await part("openStore: libsql", async () => { globalThis.store = await rt.openSqliteStore(":memory:"); });
for (const m of ${JSON.stringify(["http-roster-admin", "track-muc-joins", "ping-muc", "report-forward", "report-affiliations", "audit-geoip"])})
  await part("@xmppkit/" + m + "/gateway", () => import("@xmppkit/" + m + "/gateway"));
await globalThis.keep.close();
process.stdout.write(JSON.stringify(parts));
`;
const imports = [];
for (let i = 0; i < IMPORT_RUNS; i++) {
  const { stdout } = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", "--input-type=module", "-e", PARTS], { cwd: realpathSync(join(gatewayCli, "../..")) });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.once("exit", (code) => (code === 0 ? resolve({ stdout: out }) : reject(new Error(`the import breakdown failed:\n${err}`))));
  });
  imports.push(JSON.parse(stdout));
}

const round1 = (x) => Math.round(x * 10) / 10;
const summary = (list, key) => ({
  median: round1(median(list.map((m) => m[key]))),
  min: round1(Math.min(...list.map((m) => m[key]))),
  max: round1(Math.max(...list.map((m) => m[key]))),
});
const stats = Object.fromEntries(
  Object.entries(results).map(([kind, list]) => [
    kind,
    {
      startMs: summary(list, "startMs"),
      idleRssMiB: summary(list, "rssMiB"),
      idleAnonMiB: summary(list, "anonMiB"),
      idleFileMiB: summary(list, "fileMiB"),
      peakRssMiB: summary(list, "peakMiB"),
    },
  ]),
);
const ratio = (key) => Math.round((stats.gateway[key].median / stats.anchor[key].median) * 100) / 100;

console.log(`\nstart → /healthz 200 and RSS after ${IDLE_MS / 1000} s idle (${ROUNDS} rounds, medians, min–max)\n`);
console.log("| process | start → healthy | idle RSS | of which anonymous / files | peak RSS |");
console.log("|---|---|---|---|---|");
for (const kind of Object.keys(kinds)) {
  const s = stats[kind];
  console.log(
    `| ${labels[kind]} | ${s.startMs.median} ms (${s.startMs.min}–${s.startMs.max}) | ${s.idleRssMiB.median} MiB (${s.idleRssMiB.min}–${s.idleRssMiB.max}) | ${s.idleAnonMiB.median} / ${s.idleFileMiB.median} MiB | ${s.peakRssMiB.median} MiB |`,
  );
}
console.log(
  `| gateway ÷ anchor | ${ratio("startMs")}× | ${ratio("idleRssMiB")}× | ${ratio("idleAnonMiB")}× / ${ratio("idleFileMiB")}× | ${ratio("peakRssMiB")}× |\n`,
);

const parts = imports.length
  ? imports[0].map(({ name }, i) => ({
      name,
      ms: round1(median(imports.map((run) => run[i].ms))),
      heapMiB: round1(median(imports.map((run) => run[i].heapMiB))),
    }))
  : [];
if (parts.length) {
  console.log(`what the gateway loads, in its order (${IMPORT_RUNS} fresh processes, medians; heap kept after a full GC)\n`);
  console.log("| part | time | heap |");
  console.log("|---|---|---|");
  for (const p of parts) console.log(`| ${p.name} | ${p.ms} ms | ${p.heapMiB} MiB |`);
  console.log(`| total | ${round1(parts.reduce((a, p) => a + p.ms, 0))} ms | ${round1(parts.reduce((a, p) => a + p.heapMiB, 0))} MiB |\n`);
}

const result = {
  bench: "startup",
  rounds: ROUNDS,
  idleSeconds: IDLE_MS / 1000,
  anchor: stats.anchor,
  gateway: stats.gateway,
  ...(stats.compare ? { compare: { cli: args.compare, ...stats.compare } } : {}),
  ratios: { startMs: ratio("startMs"), idleRssMiB: ratio("idleRssMiB"), idleAnonMiB: ratio("idleAnonMiB"), peakRssMiB: ratio("peakRssMiB") },
  targets: {
    startMs: TARGET.startMs,
    startMet: stats.gateway.startMs.median <= TARGET.startMs,
    idleRssRatio: TARGET.rssRatio,
    idleRssMet: ratio("idleRssMiB") <= TARGET.rssRatio,
  },
  parts,
  machine: machine(),
};
console.log(JSON.stringify(result));
