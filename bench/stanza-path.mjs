// bench/stanza-path: what the gateway's stanza path costs against a bare component answering the same IQs.
//
//   pnpm --filter @xmppkit/bench stanza-path [--stanzas 20000] [--rounds 11] [--window 1000] [--batch 50] [--kinds disco,ping] [--profile DIR]
//
// A real Prosody (Debian package, started by @xmppkit/testing) with a MUC service and two components, each in
// its own process and connected for the whole run:
//   - the gateway (`xmppkit-gateway --config …`, as deployed) with all six feature modules enabled
//     (http-roster-admin, track-muc-joins, ping-muc, report-forward, report-affiliations, audit-geoip on
//     SQLite), seated in a MUC room through track-muc-joins, so that its incoming hook is active;
//   - the anchor (lib/stanza-anchor.mjs): a bare `@xmpp/component` answering disco#info (with the gateway's
//     own identity and features, so that both replies are the same bytes) and XEP-0199 pings.
// One client (@xmpp/client) sends `--stanzas` IQs to one of them, pipelined (written `--batch` at a time, at
// most `--window` awaiting their answer), and waits for every answer. Measured per round: throughput (first
// write → last answer) and the CPU the component's process used (utime + stime from /proc/<pid>/stat), per
// stanza; Prosody's and the client's CPU are shown too. Each round measures both, one after the other, in an
// order that alternates; the first round of each kind is a warm-up, not counted. Prints a table of medians
// and one JSON line with the ratios gateway ÷ anchor: the median of the per-round ratios (`ratios`, what the
// targets of issue 16 are judged on: the two halves of a round share the machine's load of the moment) and
// the ratio of the medians (`ratiosOfMedians`).
//
// --profile DIR profiles the gateway and the anchor (lib/cpu-profile.cjs, preloaded) and leaves their .cpuprofile
// files in DIR when they stop.
import { execSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { xml } from "@xmppkit/core";
import { loginClient, startHttpBackend, startProsody } from "@xmppkit/testing";
import { sleep, startGatewayProcess } from "./lib/gateway-process.mjs";
import { machine, median } from "./lib/stats.mjs";

const { values: args } = parseArgs({
  options: {
    stanzas: { type: "string", default: "20000" },
    rounds: { type: "string", default: "11" },
    window: { type: "string", default: "1000" },
    batch: { type: "string", default: "50" },
    kinds: { type: "string", default: "disco,ping" },
    profile: { type: "string" },
  },
});
const STANZAS = Number(args.stanzas);
const ROUNDS = Number(args.rounds);
const WINDOW = Number(args.window);
const BATCH = Number(args.batch);
const KINDS = args.kinds.split(",");
/** What issue 16 asks for: disco#info CPU per stanza ≤ 1.3× the anchor's; ping throughput ≥ 0.95× the anchor's. */
const TARGET = { discoCpuRatio: 1.3, pingRateRatio: 0.95 };
const NS_RAA = "urn:xmpp:raa:0";
const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";

const here = dirname(fileURLToPath(import.meta.url));
const CLK_TCK = Number(execSync("getconf CLK_TCK").toString().trim()) || 100;

/** What a process wrote (bytes and write calls), from /proc/<pid>/io. */
function written(pid) {
  const io = readFileSync(`/proc/${pid}/io`, "utf8");
  const field = (name) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(io)?.[1] ?? Number.NaN);
  return { bytes: field("wchar"), calls: field("syscw") };
}

/** CPU time of a process (all its threads), in ms. */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

const backend = await startHttpBackend(() => ({ body: {} }));
const prosody = await startProsody({
  users: { bench: "benchpw", mod: "modpw" },
  logLevel: "warn",
  component: { delegations: [NS_RAA] },
  components: [{ domain: `anchor.localhost`, privileges: false }],
});
const prosodyPid = Number(readFileSync(join(prosody.dir, "prosody.pid"), "utf8").trim());
const room = `bench@${prosody.muc}`;
const GW = prosody.component.domain;
const anchorComponent = prosody.components[1];

const profileDir = args.profile ? resolve(args.profile) : undefined;
const nodeOptions = process.env.NODE_OPTIONS;
const profilerOptions = `${nodeOptions ?? ""} --require ${join(here, "lib/cpu-profile.cjs")}`.trim();
if (profileDir) {
  mkdirSync(profileDir, { recursive: true });
  // --cpu-prof is not allowed in NODE_OPTIONS: a preload profiles through node:inspector instead.
  process.env.NODE_OPTIONS = profilerOptions;
  process.env.XMPPKIT_CPU_PROFILE_DIR = profileDir;
}
const gateway = await startGatewayProcess(
  prosody,
  `storage:
  sqlite: ${join(prosody.dir, "gateway.sqlite")}
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
`,
  { logLevel: "warn" },
);
if (profileDir) {
  if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = nodeOptions;
  delete process.env.XMPPKIT_CPU_PROFILE_DIR;
}

const client = await loginClient(prosody, "bench", { password: "benchpw" });
// The gateway's seat: its self-presence in the room, seen by an occupant.
await client.xmpp.send(xml("presence", { to: `${room}/bench` }, xml("x", "http://jabber.org/protocol/muc")));
for (let i = 0; ; i++) {
  if (client.received.some((el) => el.name === "presence" && el.attrs.from === `${room}/abuse-desk` && !el.attrs.type)) break;
  if (i > 300) throw new Error(`the gateway did not take its seat in ${room}:\n${gateway.log}`);
  await sleep(100);
}

// The gateway's disco#info, for the anchor to answer with the same identity and features.
const info = (await client.request(xml("iq", { type: "get", to: GW }, xml("query", NS_DISCO_INFO)))).getChild("query", NS_DISCO_INFO);
const infoJson = JSON.stringify({
  identities: info.getChildren("identity").map((i) => ({ ...i.attrs })),
  features: info.getChildren("feature").map((f) => f.attrs.var),
});
const anchor = spawn(
  process.execPath,
  [join(here, "lib/stanza-anchor.mjs"), anchorComponent.service, anchorComponent.domain, anchorComponent.secret, infoJson],
  {
    stdio: ["ignore", "pipe", "pipe"],
    // Profiled like the gateway, for a side-by-side reading.
    env: profileDir ? { ...process.env, NODE_OPTIONS: profilerOptions, XMPPKIT_CPU_PROFILE_DIR: profileDir } : process.env,
  },
);
let anchorOut = "";
anchor.stdout.on("data", (d) => (anchorOut += d));
anchor.stderr.on("data", (d) => (anchorOut += d));
for (let i = 0; !anchorOut.includes("online"); i++) {
  if (i > 300 || anchor.exitCode !== null) throw new Error(`the anchor did not come online:\n${anchorOut}`);
  await sleep(50);
}

// Both answer disco#info with the same payload: only the path to it differs.
for (const to of [GW, anchorComponent.domain]) {
  const reply = await client.request(xml("iq", { type: "get", to }, xml("query", NS_DISCO_INFO)));
  process.stderr.write(`disco#info reply from ${to}: ${reply.toString().length} characters\n`);
}

// Answers are counted by id prefix: one prefix per round.
let current;
client.xmpp.on("stanza", (el) => {
  if (el.name !== "iq" || !current || !String(el.attrs.id).startsWith(current.prefix)) return;
  if (el.attrs.type === "result") current.ok += 1;
  else current.errors += 1;
  const answered = current.ok + current.errors;
  if (answered === STANZAS) current.done();
  if (current.room && current.sent - answered <= WINDOW - BATCH) {
    current.room();
    current.room = undefined;
  }
});
const payloads = {
  disco: `<query xmlns='${NS_DISCO_INFO}'/>`,
  ping: `<ping xmlns='urn:xmpp:ping'/>`,
};
const targets = {
  gateway: { to: GW, pid: gateway.child.pid },
  anchor: { to: anchorComponent.domain, pid: anchor.pid },
};
let roundNo = 0;

async function runRound(target, kind) {
  const { to, pid } = targets[target];
  const prefix = `r${++roundNo}-`;
  const finished = new Promise((r) => {
    current = { prefix, ok: 0, errors: 0, sent: 0, room: undefined, done: r };
  });
  const payload = payloads[kind];
  const cpu0 = { target: cpuMs(pid), prosody: cpuMs(prosodyPid), client: process.cpuUsage(), written: written(pid) };
  const start = performance.now();
  current.sent = 0;
  while (current.sent < STANZAS) {
    // At most WINDOW awaiting their answer: wait until a batch fits (no polling: the client's CPU counts too).
    if (current.sent - (current.ok + current.errors) > WINDOW - BATCH) await new Promise((r) => (current.room = r));
    let text = "";
    const n = Math.min(BATCH, STANZAS - current.sent);
    for (let k = 0; k < n; k++) text += `<iq type='get' id='${prefix}${current.sent + k}' to='${to}'>${payload}</iq>`;
    current.sent += n;
    await client.xmpp.write(text);
  }
  const timeout = setTimeout(() => current.done(), 120_000);
  await finished;
  clearTimeout(timeout);
  const seconds = (performance.now() - start) / 1000;
  const c = process.cpuUsage(cpu0.client);
  const r = {
    target,
    kind,
    answered: current.ok,
    errors: current.errors,
    perSecond: STANZAS / seconds,
    cpuUsPerStanza: ((cpuMs(pid) - cpu0.target) * 1000) / STANZAS,
    prosodyUsPerStanza: ((cpuMs(prosodyPid) - cpu0.prosody) * 1000) / STANZAS,
    clientUsPerStanza: (c.user + c.system) / STANZAS,
    // A check that both answer alike: bytes and write calls of the component per stanza.
    bytesPerStanza: (written(pid).bytes - cpu0.written.bytes) / STANZAS,
    writesPerStanza: (written(pid).calls - cpu0.written.calls) / STANZAS,
  };
  current = undefined;
  if (r.answered !== STANZAS) throw new Error(`${target} ${kind}: ${r.answered} of ${STANZAS} answered (${r.errors} errors)`);
  await sleep(300); // let the processes settle (GC, timers) between rounds
  return r;
}

const results = [];
for (const kind of KINDS) {
  for (let round = 0; round <= ROUNDS; round++) {
    const order = round % 2 ? ["anchor", "gateway"] : ["gateway", "anchor"];
    const pair = {};
    for (const target of order) {
      const r = await runRound(target, kind);
      pair[target] = r;
      process.stderr.write(
        `${kind.padEnd(5)} ${round ? `round ${round}/${ROUNDS}` : "warm-up  "} ${target.padEnd(7)} ${Math.round(r.perSecond).toString().padStart(6)}/s, ${r.cpuUsPerStanza.toFixed(1).padStart(5)} µs CPU/stanza (Prosody ${r.prosodyUsPerStanza.toFixed(1)}, client ${r.clientUsPerStanza.toFixed(1)}); ${r.bytesPerStanza.toFixed(0)} B in ${r.writesPerStanza.toFixed(2)} writes/stanza\n`,
      );
    }
    if (round > 0) results.push({ kind, round, ...pair });
  }
}

await client.stop();
const anchorExited = new Promise((r) => anchor.once("exit", r));
anchor.kill("SIGTERM");
await anchorExited;
if (process.env.STANZA_PATH_DEBUG) console.error(gateway.log.slice(-3000));
await gateway.stop();
await prosody.stop();
await backend.close();

const r1 = (x) => Math.round(x * 10) / 10;
const r2 = (x) => Math.round(x * 100) / 100;
// Two ratios per measure: the median over rounds of gateway ÷ anchor within each round (the two ran back to
// back, so a shared machine's load drifts cancel: the figure the targets are judged on), and the ratio of the
// two medians.
const summary = {};
for (const kind of KINDS) {
  const rounds = results.filter((r) => r.kind === kind);
  summary[kind] = {};
  for (const target of ["anchor", "gateway"]) {
    const of = (key) => median(rounds.map((r) => r[target][key]));
    summary[kind][target] = {
      perSecond: Math.round(of("perSecond")),
      cpuUsPerStanza: r1(of("cpuUsPerStanza")),
      prosodyUsPerStanza: r1(of("prosodyUsPerStanza")),
      clientUsPerStanza: r1(of("clientUsPerStanza")),
    };
  }
  const paired = (key) => r2(median(rounds.map((r) => r.gateway[key] / r.anchor[key])));
  const ofMedians = (key) => r2(summary[kind].gateway[key] / summary[kind].anchor[key]);
  summary[kind].ratios = { perSecond: paired("perSecond"), cpuUsPerStanza: paired("cpuUsPerStanza") };
  summary[kind].ratiosOfMedians = { perSecond: ofMedians("perSecond"), cpuUsPerStanza: ofMedians("cpuUsPerStanza") };
}

console.log(`\nstanza path: ${STANZAS} pipelined IQs per round through Prosody, ${ROUNDS} rounds per kind, interleaved (medians)`);
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}\n`);
console.log("| IQ | component | answered/s | component CPU/stanza | Prosody CPU/stanza | client CPU/stanza |");
console.log("|---|---|---|---|---|---|");
for (const kind of KINDS) {
  for (const [target, label] of [
    ["anchor", "bare @xmpp/component (anchor)"],
    ["gateway", "xmppkit-gateway, six modules, seated in a room"],
  ]) {
    const s = summary[kind][target];
    console.log(`| ${kind} | ${label} | ${s.perSecond} | ${s.cpuUsPerStanza} µs | ${s.prosodyUsPerStanza} µs | ${s.clientUsPerStanza} µs |`);
  }
  const q = summary[kind].ratios;
  const m = summary[kind].ratiosOfMedians;
  console.log(`| ${kind} | ratio (median of round pairs) | ${q.perSecond}× | ${q.cpuUsPerStanza}× | | |`);
  console.log(`| ${kind} | ratio of the medians | ${m.perSecond}× | ${m.cpuUsPerStanza}× | | |`);
}
const result = {
  bench: "stanza-path",
  stanzas: STANZAS,
  rounds: ROUNDS,
  window: WINDOW,
  batch: BATCH,
  ...summary,
  ratios: Object.fromEntries(KINDS.map((k) => [k, summary[k].ratios])),
  targets: {
    ...(summary.disco ? { discoCpuRatio: TARGET.discoCpuRatio, discoCpuMet: summary.disco.ratios.cpuUsPerStanza <= TARGET.discoCpuRatio } : {}),
    ...(summary.ping ? { pingRateRatio: TARGET.pingRateRatio, pingRateMet: summary.ping.ratios.perSecond >= TARGET.pingRateRatio } : {}),
  },
  machine: machine(),
};
console.log(`\n${JSON.stringify(result)}`);
if (profileDir) console.error(`CPU profiles of the gateway (cli-*) and the anchor (stanza-anchor-*) written to ${profileDir}`);
