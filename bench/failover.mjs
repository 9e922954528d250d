// bench/failover: an active/standby pair of gateways: how long the standby takes to hold the component link
// when the holder is killed, frozen or cut off from PostgreSQL, and what becomes of the reports meanwhile.
//
//   pnpm --filter @xmppkit/bench run failover [--rounds 10] [--freeze 5] [--pg 3] [--poll 1] [--watchdog 3] [--restart 5]
//
// A real Prosody and a real PostgreSQL; two gateway processes (`xmppkit-gateway`, as deployed) with the same
// config, `storage.postgres` and `ha.enabled`, each under a supervisor that speaks systemd's notify protocol
// (WatchdogSec=--watchdog s, TimeoutAbortSec=1 s) and starts it again --restart s after it failed, as the
// shipped unit does (Restart=on-failure, RestartSec=5). Rounds, one kind after the other:
//   kill -9  (--rounds) SIGKILL of the holder; time to the standby's /healthz 200.
//   freeze   (--freeze) SIGSTOP of the holder; time to the standby's /healthz 200, when the watchdog fired and
//            when the frozen holder died: only the supervisor can fence it, nothing else frees the lease.
//   pg       (--pg) PostgreSQL stopped (its data kept) until both nodes say they cannot reach it (the holder
//            closed its link: it cannot confirm its lease), then started again; time from PostgreSQL ready to
//            a /healthz 200.
// A round ends once one node holds the link and the other is a standby again (the failed one restarted); then
// Prosody's log must show exactly one new component link (a standby never connects). Meanwhile each node gets
// a report every 20 ms (POST /reports: both accept), and the staff account counts what it receives by report
// id: accepted reports lost, delivered twice, and the delivery latency (202 → staff) per node and, for reports
// whose life spans no round, per role of the node that accepted them. Prints a line per round kind, one JSON line.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { freePort, loginClient, startPostgres, startProsody } from "@xmppkit/testing";
import { gatewayYamlHead, sleep } from "./lib/gateway-process.mjs";
import { machine, median, percentile } from "./lib/stats.mjs";
import { supervisedGateway } from "./lib/supervised-gateway.mjs";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "10" },
    freeze: { type: "string", default: "5" },
    pg: { type: "string", default: "3" },
    poll: { type: "string", default: "1" },
    watchdog: { type: "string", default: "3" },
    restart: { type: "string", default: "5" },
  },
});
const ROUNDS = { kill: Number(args.rounds), freeze: Number(args.freeze), pg: Number(args.pg) };
const WATCHDOG_MS = Number(args.watchdog) * 1000;
const ABORT_MS = 1000;
const RESTART_MS = Number(args.restart) * 1000;
/** A report delivered later than this while no round was under way is a late delivery. */
const LATE_MS = 1000;

const TOKEN = "failover-token-0123456789abcdef";
const prosody = await startProsody({ logLevel: "info", muc: false, users: { mod: "modpw" } });
const pg = await startPostgres();
const db = await pg.createDatabase("failover");
const dir = mkdtempSync(join(tmpdir(), "xmppkit-failover-"));
const links = () => prosody.logTail(1_000_000).match(/External component successfully authenticated/g)?.length ?? 0;

async function startNode(name) {
  const port = await freePort();
  const configPath = join(dir, `gateway-${name}.yaml`);
  writeFileSync(
    configPath,
    `${gatewayYamlHead(prosody, { port, token: TOKEN })}storage:
  postgres: ${db}
ha:
  enabled: true
  poll_interval: ${args.poll}
log:
  level: info
  format: json
modules_enabled: [report-forward]
report-forward:
  report_forward_to_staff: [mod@${prosody.domain}]
  report_forward_reported_limit: 0
  report_forward_digest_after: 0
`,
  );
  const logPath = join(dir, `gateway-${name}.log`);
  return supervisedGateway({ name, port, token: TOKEN, configPath, logPath, watchdogMs: WATCHDOG_MS, abortTimeoutMs: ABORT_MS, restartMs: RESTART_MS });
}

/** Poll `fn` every 20 ms until it returns something truthy, and return that. */
async function until(what, fn, timeoutMs = 60_000) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(20);
  }
}
/** `promise`'s value, or undefined after `ms`. */
const within = (promise, ms) => Promise.race([promise, sleep(ms)]);
const round1 = (x) => (x === undefined ? undefined : Math.round(x));

/** The first of `nodes` whose /healthz says 200, and when; each polled on its own (a frozen one delays nobody). */
async function firstOk(nodes, timeoutMs = 60_000) {
  let done = false;
  const deadline = performance.now() + timeoutMs;
  const watch = async (node) => {
    while (!done && performance.now() < deadline) {
      if ((await node.state()) === "ok") return { node, at: performance.now() };
      await sleep(20);
    }
    throw new Error(`no /healthz 200 within ${timeoutMs / 1000} s`);
  };
  try {
    return await Promise.any(nodes.map(watch));
  } catch (err) {
    throw err.errors?.[0] ?? err;
  } finally {
    done = true;
  }
}

// The pair: node A starts first and takes the lease, B stands by.
const nodes = [await startNode("A")];
await until("A holding the link", async () => (await nodes[0].state()) === "ok");
nodes.push(await startNode("B"));
const pair = { holder: nodes[0], standby: nodes[1] };
/** Wait until one node holds the link and the other is a standby that PostgreSQL told so; `pair` says which. */
async function settle(timeoutMs = 90_000) {
  const [a, b] = await until(
    "one holder and one standby",
    async () => {
      const [sa, sb] = await Promise.all(nodes.map((n) => n.state()));
      if (sa === "ok" && sb === "standby") return nodes;
      if (sb === "ok" && sa === "standby") return [nodes[1], nodes[0]];
    },
    timeoutMs,
  );
  pair.holder = a;
  pair.standby = b;
}
await settle();

// The staff: each report's first arrival (the message id is `<report id>.<audience hash>`), how many, the last.
const staff = await loginClient(prosody, "mod", { password: "modpw" });
const delivered = new Map();
staff.xmpp.on("stanza", (el) => {
  if (el.name !== "message" || el.attrs.type === "error" || !el.getChild("report", "urn:xmpp:reporting:1")) return;
  const id = String(el.attrs.id).split(".")[0];
  const seen = delivered.get(id);
  if (!seen) delivered.set(id, { at: performance.now(), count: 1 });
  else {
    seen.count++;
    seen.againAt = performance.now();
  }
});

// The reporters: one loop per node, a report every 20 ms, whatever the node is doing.
const reports = { flowing: true, next: 0, accepted: [], refused: {} };
async function postOne(node) {
  const i = reports.next++;
  const sentAt = performance.now();
  const role = pair.holder === node ? "holder" : "standby";
  const res = await node.post({ jid: `spammer${i}@spam.example`, reason: "spam", text: `report ${i}` });
  const at = performance.now();
  const key = res ? String(res.status) : "no answer";
  if (res?.status !== 202) {
    reports.refused[key] = (reports.refused[key] ?? 0) + 1;
    await res?.text().catch(() => undefined);
    return;
  }
  const { id } = await res.json();
  reports.accepted.push({ id, node: node.name, role, sentAt, at, wall: Date.now() });
}
const reporters = nodes.map(async (node) => {
  while (reports.flowing) {
    await postOne(node);
    await sleep(20);
  }
});

// The rounds. Each one's fault → settled window, so that reports whose life spans a round are told apart.
const windows = [];
let doubleLinks = 0;

/** One round: `fault` breaks the pair and says what it measured; then the pair settles again. */
async function round(kind, fault) {
  await sleep(200 + Math.random() * 800); // the fault lands anywhere in the standby's poll and the watchdog's period
  const before = links();
  const window = { kind, from: performance.now(), to: undefined };
  windows.push(window);
  const result = await fault(pair.holder, pair.standby).catch((err) => ({ error: err.message }));
  await settle();
  window.to = performance.now();
  result.links = links() - before;
  if (result.links !== 1) doubleLinks++;
  return result;
}
const winner = (node, standby) => (node === standby ? "standby" : "restarted");

async function killRound(holder, standby) {
  const victim = holder.proc;
  victim.cause = "kill";
  const t0 = performance.now();
  process.kill(victim.pid, "SIGKILL");
  const { node, at } = await firstOk([standby, holder]);
  return { takeoverMs: round1(at - t0), by: winner(node, standby) };
}

async function freezeRound(holder, standby) {
  const victim = holder.proc;
  await until("a watchdog ping from the holder", () => victim.sup.pings > 0, 10_000); // its watchdog is armed
  victim.cause = "freeze";
  const t0 = performance.now();
  const wall = Date.now(); // the supervisor's times are Date.now()
  process.kill(victim.pid, "SIGSTOP"); // the gateway only: its pid, not its group
  const fencing = within(victim.sup.fenced, WATCHDOG_MS + ABORT_MS + 15_000).then((fenced) => {
    if (!fenced) victim.sup.child.kill("SIGKILL"); // never fenced: the bench ends it, so that the rounds go on
    return fenced;
  });
  const took = await firstOk([standby, holder]).catch((err) => ({ error: err.message }));
  const fenced = await fencing;
  return {
    takeoverMs: round1(took.at - t0),
    by: took.node && winner(took.node, standby),
    ...(took.error ? { error: took.error } : {}),
    fenced: !!fenced,
    firedMs: fenced && fenced.firedAt - wall,
    deadMs: fenced && fenced.at - wall,
    signal: fenced?.signal,
  };
}

async function pgRound(holder, standby) {
  const t0 = performance.now();
  try {
    await pg.halt();
    // The holder cannot confirm its lease: it closes its link and waits as a standby, without exiting.
    await until("the holder closing its link", async () => (await holder.state()) === "cut-off", 30_000);
    const holderCutMs = performance.now() - t0;
    await until("the standby saying it cannot reach PostgreSQL", async () => (await standby.state()) === "cut-off", 30_000);
    const cutOffAt = performance.now();
    await pg.resume();
    const readyAt = performance.now();
    const { node, at } = await firstOk([standby, holder]);
    return {
      holderCutMs: round1(holderCutMs),
      holderExited: holder.proc.sup.child.exitCode !== null,
      cutOffMs: round1(cutOffAt - t0),
      pgStartMs: round1(readyAt - cutOffAt),
      backMs: round1(at - readyAt),
      by: winner(node, standby),
    };
  } finally {
    await pg.resume(); // a no-op when it runs
  }
}

const results = { kill: [], freeze: [], pg: [] };
const faults = { kill: killRound, freeze: freezeRound, pg: pgRound };
let aborted;
try {
  for (const [kind, fault] of Object.entries(faults)) for (let r = 0; r < ROUNDS[kind]; r++) results[kind].push(await round(kind, fault));
} catch (err) {
  aborted = err.message; // the pair never settled again
}

// Drain: every accepted report delivered, or 30 s; then a window for second copies and a late second link.
reports.flowing = false;
await Promise.all(reporters);
await until("every accepted report delivered", () => reports.accepted.every((r) => delivered.has(r.id)), 30_000).catch(() => undefined);
await sleep(500);
await staff.stop();
const lastLinks = links();
await sleep(2000);
if (links() !== lastLinks) doubleLinks++;
for (const node of [pair.standby, pair.holder]) await node.stop();
await prosody.stop();
await pg.stop();

// What it measured.
const spread = (xs) => {
  const v = xs.filter((x) => typeof x === "number");
  return v.length ? { min: Math.min(...v), median: round1(median(v)), max: Math.max(...v) } : {};
};
const latency = (xs) =>
  xs.length ? { n: xs.length, p50: round1(percentile(xs, 50)), p99: round1(percentile(xs, 99)), max: round1(Math.max(...xs)) } : { n: 0 };

/** Accepted reports: lost, twice, and the latency from the 202 to the staff (0 when the message came first). */
function reportFigures() {
  const acc = reports.accepted;
  const spansRound = (r) =>
    windows.some((w) => r.sentAt <= (w.to ?? Number.POSITIVE_INFINITY) && (delivered.get(r.id)?.at ?? Number.POSITIVE_INFINITY) >= w.from);
  const ms = (r) => Math.max(0, delivered.get(r.id).at - r.at);
  const lat = (rs) => latency(rs.filter((r) => delivered.has(r.id)).map(ms));
  const steady = acc.filter((r) => !spansRound(r));
  const lost = acc.filter((r) => !delivered.has(r.id));
  const twice = acc.filter((r) => delivered.get(r.id)?.count > 1);
  const roundAt = (t) => windows.find((w) => t >= w.from && t <= (w.to ?? Number.POSITIVE_INFINITY))?.kind ?? "outside";
  const again = {};
  for (const r of twice) {
    const kind = roundAt(delivered.get(r.id).againAt);
    again[kind] = (again[kind] ?? 0) + 1;
  }
  const late = steady.filter((r) => delivered.has(r.id) && ms(r) > LATE_MS);
  const show = (r) => ({ id: r.id, node: r.node, role: r.role, ms: delivered.has(r.id) ? round1(ms(r)) : undefined, accepted: new Date(r.wall).toISOString() });
  return {
    accepted: acc.length,
    byNode: Object.fromEntries(nodes.map((n) => [n.name, acc.filter((r) => r.node === n.name).length])),
    refused: reports.refused,
    delivered: acc.length - lost.length,
    lost: lost.length,
    twice: twice.length,
    /** By the round kind the last copy came in (outside: in none). */
    twiceDuring: again,
    latencyMs: {
      ...Object.fromEntries(nodes.map((n) => [n.name, lat(acc.filter((r) => r.node === n.name))])),
      holder: lat(steady.filter((r) => r.role === "holder")),
      standby: lat(steady.filter((r) => r.role === "standby")),
      spanningRound: lat(acc.filter(spansRound)),
    },
    late: late.length,
    examples: { lost: lost.slice(0, 10).map(show), late: late.slice(0, 10).map(show) },
  };
}

/** Processes that ended without the bench ending them, and fences outside the freeze rounds. */
function surprises() {
  const procs = nodes.flatMap((n) => n.procs.map((p) => ({ node: n.name, ...p })));
  return {
    starts: Object.fromEntries(nodes.map((n) => [n.name, n.procs.length])),
    crashes: procs.filter((p) => p.end && !p.cause).map((p) => ({ node: p.node, pid: p.pid, ...p.end })),
    strayFences: procs.filter((p) => p.sup.fencedWith && p.cause !== "freeze").map((p) => ({ node: p.node, pid: p.pid })),
  };
}

const { kill, freeze, pg: pgRounds } = results;
const result = {
  bench: "failover",
  rounds: { kill: kill.length, freeze: freeze.length, pg: pgRounds.length },
  pollSeconds: Number(args.poll),
  watchdogMs: WATCHDOG_MS,
  abortTimeoutMs: ABORT_MS,
  restartMs: RESTART_MS,
  machine: machine(),
  kill: { takeoverMs: spread(kill.map((r) => r.takeoverMs)), rounds: kill },
  freeze: {
    takeoverMs: spread(freeze.map((r) => r.takeoverMs)),
    watchdogFiredMs: spread(freeze.map((r) => r.firedMs)),
    deadMs: spread(freeze.map((r) => r.deadMs)),
    fenced: freeze.filter((r) => r.fenced).length,
    rounds: freeze,
  },
  pg: {
    holderCutMs: spread(pgRounds.map((r) => r.holderCutMs)),
    cutOffMs: spread(pgRounds.map((r) => r.cutOffMs)),
    pgStartMs: spread(pgRounds.map((r) => r.pgStartMs)),
    backMs: spread(pgRounds.map((r) => r.backMs)),
    rounds: pgRounds,
  },
  doubleLinks,
  failedRounds: [...kill, ...freeze, ...pgRounds].filter((r) => r.error).length,
  ...(aborted ? { aborted } : {}),
  ...surprises(),
  reports: reportFigures(),
};

const mmm = (s) => (s.min === undefined ? "none" : `min ${s.min} ms, median ${s.median} ms, max ${s.max} ms`);
const pq = (l) => (l.n ? `${l.p50} / ${l.p99} / ${l.max} ms (${l.n})` : "none");
const all = [...kill, ...freeze, ...pgRounds];
const { reports: rep } = result;
const byNode = Object.entries(rep.byNode)
  .map(([n, c]) => `by ${n} ${c}`)
  .join(", ");
console.log(
  `\nfailover: ${kill.length} kill -9, ${freeze.length} freeze, ${pgRounds.length} PostgreSQL restart rounds; standby poll ${args.poll} s, watchdog ${WATCHDOG_MS / 1000} s + abort ${ABORT_MS / 1000} s, restart after ${RESTART_MS / 1000} s; ${result.machine.cpus} × ${result.machine.cpu}, Node ${process.version}`,
);
console.log(`kill -9 → standby's /healthz 200: ${mmm(result.kill.takeoverMs)}`);
console.log(
  `SIGSTOP → standby's /healthz 200: ${mmm(result.freeze.takeoverMs)}; watchdog fired after ${mmm(result.freeze.watchdogFiredMs)}; frozen holder dead after ${mmm(result.freeze.deadMs)} (${freeze.map((r) => r.signal ?? "not fenced").join(", ")}); fenced ${result.freeze.fenced} of ${freeze.length}`,
);
console.log(
  `PostgreSQL stopped → holder closed its link after ${mmm(result.pg.holderCutMs)} (exited: ${pgRounds.map((r) => r.holderExited).join(", ")}), standby cut off after ${mmm(result.pg.cutOffMs)}; PostgreSQL started in ${mmm(result.pg.pgStartMs)}, then /healthz 200 after ${mmm(result.pg.backMs)}`,
);
console.log(
  `link taken by the standby in ${all.filter((r) => r.by === "standby").length} of ${all.length} rounds (else by the failed node, restarted); rounds with other than one new component link: ${doubleLinks}; failed rounds: ${result.failedRounds}${aborted ? ` (aborted: ${aborted})` : ""}`,
);
console.log(
  `processes started: ${JSON.stringify(result.starts)}; crashes: ${result.crashes.length}; fenced outside the freeze rounds: ${result.strayFences.length}`,
);
console.log(
  `reports: ${rep.accepted} accepted (202; ${byNode}; refused ${JSON.stringify(rep.refused)}: status, or no answer from a node not running or frozen), ${rep.delivered} delivered to staff, ${rep.lost} lost, ${rep.twice} delivered more than once (last copy during ${JSON.stringify(rep.twiceDuring)})`,
);
const l = rep.latencyMs;
console.log(
  `delivery 202 → staff, p50 / p99 / max: ${nodes.map((n) => `node ${n.name} ${pq(l[n.name])}`).join(", ")}; outside rounds, accepted by the holder ${pq(l.holder)}, by the standby ${pq(l.standby)}; spanning a round ${pq(l.spanningRound)}; later than ${LATE_MS} ms outside rounds: ${rep.late}`,
);
console.log(`gateway configs and logs: ${dir}`);
console.log(JSON.stringify(result));
if (aborted) process.exitCode = 1;
