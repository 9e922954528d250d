// bench/refresh-flood: the gateway's memory under floods of roster refreshes, and whether it gives it back.
//
//   pnpm --filter @xmppkit/bench refresh-flood [--bursts 4] [--refreshes 5000] [--seconds 10] [--pause 5]
//     [--after 60] [--users 100] [--contacts 5]
//
// A real Prosody (Debian package, log at warn), a local web app answering `GET /contacts/{username}` and the
// gateway as its own process (`xmppkit-gateway`, as deployed) with http-roster-admin only. `--users` accounts,
// all offline: their rosters are written through XEP-0356 and stored by Prosody. Each user has `--contacts`
// contacts; the first one's name carries the burst's number, so the first refresh of a user in a burst changes
// one contact and the others find nothing to do.
//
//   idle   — the gateway's RSS (VmRSS of /proc/<pid>/status) once /healthz is 200 and RSS has been stable
//            (within 0.5 MiB) over 10 samples 0.5 s apart: the anchor of every ratio below;
//   bursts — `--bursts` times, `--refreshes` `POST /roster_admin/refresh` requests spread evenly over
//            `--seconds` s, each naming one user (round robin); the bench waits for every answer, then
//            `--pause` s; RSS sampled every 100 ms from the first burst to the last answer: the peak;
//   after  — RSS `--after` s after the last burst's last answer.
//
// Also: the answers by HTTP status (and requests never answered), their latency, users that failed inside a
// 200, the syncs, roster edits and roster sets the gateway counted on /metrics, Prosody's and the gateway's
// CPU during the bursts, the gateway's VmHWM, and at the end every user's roster against the web app (users
// logged in without presence: no login sync). Prints lines and one JSON line.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loginClient, startHttpBackend, startProsody } from "@xmppkit/testing";
import { peakRssMiB, sleep, startGatewayProcess, TOKEN } from "./lib/gateway-process.mjs";
import { machine, percentile } from "./lib/stats.mjs";

const { values: args } = parseArgs({
  options: {
    bursts: { type: "string", default: "4" },
    refreshes: { type: "string", default: "5000" },
    seconds: { type: "string", default: "10" },
    pause: { type: "string", default: "5" },
    after: { type: "string", default: "60" },
    users: { type: "string", default: "100" },
    contacts: { type: "string", default: "5" },
  },
});
const BURSTS = Number(args.bursts);
const REFRESHES = Number(args.refreshes);
const BURST_MS = Number(args.seconds) * 1000;
const PAUSE_MS = Number(args.pause) * 1000;
const AFTER_MS = Number(args.after) * 1000;
const USERS = Number(args.users);
const CONTACTS = Number(args.contacts);
const SAMPLE_MS = 100;
const REQUEST_TIMEOUT_MS = 120_000;
/** The operator's issue: 76 MB idle, 148 MB peak over 4 × 5,000 refreshes in 10 s, 78.5 MB a minute later. */
const ISSUE = { idleMB: 76, peakMB: 148, afterMB: 78.5, peakRatio: 1.95, afterRatio: 1.03 };

const username = (i) => `user${i}`;
const round1 = (x) => Math.round(x * 10) / 10;
const round2 = (x) => Math.round(x * 100) / 100;
const count = (bucket, key) => (bucket[key] = (bucket[key] ?? 0) + 1);

/** VmRSS of a process, in KiB (NaN once it is gone). */
function rssKiB(pid) {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}
const mib = (kib) => round1(kib / 1024);

/** CPU time (user + system) of a process so far, in ms. */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10; // USER_HZ = 100
}

// The web app: `--contacts` contacts per user; the first one renamed at every burst.
let burstNo = 0;
function webRoster(user) {
  const out = {};
  for (let j = 0; j < CONTACTS; j++)
    out[`${user}-c${j}@example.com`] = { name: j === 0 ? `Contact 0 (burst ${burstNo})` : `Contact ${j}`, groups: [`Group ${j % 2}`] };
  return out;
}

/** Prosody with `--users` accounts, written as files (prosodyctl takes ~0.3 s each; the server reads them on demand). */
async function startServer() {
  const prosody = await startProsody({ users: {}, muc: false, logLevel: "warn" });
  const host = prosody.domain.replace(/\W/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  const accounts = join(prosody.dir, "data", host, "accounts");
  mkdirSync(accounts, { recursive: true });
  for (let i = 0; i < USERS; i++) writeFileSync(join(accounts, `${username(i)}.dat`), `return {\n\t["password"] = "pw";\n};\n`);
  return prosody;
}

/** Sample the RSS of `pid` every SAMPLE_MS into `samples`, each tagged with the phase at that moment. */
function startSampler(pid) {
  const s = { phase: "start", samples: [] };
  const timer = setInterval(() => s.samples.push({ phase: s.phase, kib: rssKiB(pid) }), SAMPLE_MS);
  s.stop = () => clearInterval(timer);
  s.max = (match) => Math.max(...s.samples.filter((x) => match(x.phase)).map((x) => x.kib));
  return s;
}

/** Wait until RSS is stable (10 samples 0.5 s apart within 0.5 MiB, at most 60 s); its median then, in KiB. */
async function settledRss(pid) {
  const xs = [];
  const started = performance.now();
  for (;;) {
    xs.push(rssKiB(pid));
    const last = xs.slice(-10);
    const stable = last.length === 10 && Math.max(...last) - Math.min(...last) <= 512;
    if (stable || performance.now() - started > 60_000)
      return { kib: [...last].sort((a, b) => a - b)[5] ?? last.at(-1), stable, seconds: round1((performance.now() - started) / 1000) };
    await sleep(500);
  }
}

/** One refresh of one user; its answer counted by status, its latency kept. */
async function refreshOne(base, user, tally) {
  const started = performance.now();
  try {
    const res = await fetch(`${base}/roster_admin/refresh`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify([user]),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const body = await res.json().catch(() => undefined);
    count(tally.statuses, res.status);
    if (res.status === 200 && body?.errors) tally.userErrors += body.errors;
    tally.latencies.push(performance.now() - started);
  } catch (err) {
    count(tally.statuses, err?.name === "TimeoutError" ? "timeout" : "no answer");
  }
}

/** A burst: REFRESHES requests spread evenly over BURST_MS, then every answer awaited. */
async function burst(b, base, tally) {
  const interval = BURST_MS / REFRESHES;
  const inflight = [];
  const started = performance.now();
  let sent = 0;
  while (sent < REFRESHES) {
    const due = Math.min(REFRESHES, Math.floor((performance.now() - started) / interval) + 1);
    for (; sent < due; sent++) inflight.push(refreshOne(base, username((b * REFRESHES + sent) % USERS), tally));
    await sleep(Math.max(1, Math.min(10, interval)));
  }
  const sendMs = performance.now() - started;
  await Promise.all(inflight);
  return { sent, sendMs: Math.round(sendMs), doneMs: Math.round(performance.now() - started) };
}

/** The roster-admin counters on /metrics, summed over labels (each filtered by `label` when given). */
async function rosterCounters(gateway) {
  const text = await gateway.get("/metrics");
  const sum = (name, label = "") =>
    text
      .split("\n")
      .filter((l) => l.startsWith(`xmppkit_http_roster_admin_${name}`) && l.includes(label))
      .reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
  return {
    syncsOk: sum("syncs_total", 'outcome="ok"'),
    syncsFailed: sum("syncs_total", 'outcome="error"'),
    edits: sum("roster_edits_total"),
    sets: sum("roster_sets_total"),
  };
}

/** Every user's roster as Prosody has it, against the web app's (10 logins at a time, no presence). */
async function rostersEqual(prosody) {
  let equal = 0;
  const key = (rows) => JSON.stringify(rows.sort());
  for (let i = 0; i < USERS; i += 10) {
    const group = Array.from({ length: Math.min(10, USERS - i) }, (_, k) => username(i + k));
    const results = await Promise.all(
      group.map(async (u) => {
        const c = await loginClient(prosody, u, { password: "pw", presence: false });
        const items = (await c.fetchRoster())
          .getChild("query")
          .getChildren("item")
          .map((it) => [
            it.attrs.jid,
            it.attrs.name ?? "",
            it.attrs.subscription,
            it
              .getChildren("group")
              .map((g) => g.getText())
              .sort()
              .join(","),
          ]);
        await c.stop();
        const want = Object.entries(webRoster(u)).map(([jid, v]) => [jid, v.name, "both", [...v.groups].sort().join(",")]);
        return key(items) === key(want);
      }),
    );
    equal += results.filter(Boolean).length;
  }
  return equal;
}

/** Idle, the bursts and the minute after, with the sampler, the tallies and the CPU of both processes. */
async function flood(gateway, prosodyPid) {
  const pid = gateway.child.pid;
  const idle = await settledRss(pid);
  const before = await rosterCounters(gateway);
  const sampler = startSampler(pid);
  const tally = { statuses: {}, latencies: [], userErrors: 0 };
  const bursts = [];
  const cpu0 = { gateway: cpuMs(pid), prosody: cpuMs(prosodyPid) };
  let burstWallMs = 0;
  for (let b = 0; b < BURSTS; b++) {
    burstNo = b + 1;
    sampler.phase = `burst ${b + 1}`;
    const r = await burst(b, gateway.base, tally);
    burstWallMs += r.doneMs;
    bursts.push({ ...r, peakMiB: mib(sampler.max((p) => p === `burst ${b + 1}`)), endMiB: mib(rssKiB(pid)) });
    if (b < BURSTS - 1) {
      sampler.phase = `pause ${b + 1}`;
      await sleep(PAUSE_MS);
    }
  }
  const cpu = { gateway: cpuMs(pid) - cpu0.gateway, prosody: cpuMs(prosodyPid) - cpu0.prosody };
  const peakKiB = sampler.max((p) => p.startsWith("burst") || p.startsWith("pause"));
  sampler.phase = "after";
  const afterCounters = await rosterCounters(gateway);
  await sleep(AFTER_MS);
  const afterKiB = rssKiB(pid);
  sampler.stop();
  const counters = Object.fromEntries(Object.entries(afterCounters).map(([k, v]) => [k, v - before[k]]));
  // CPU over the time requests were in flight (pauses excluded: both processes idle then).
  const cpuShare = { gateway: round2(cpu.gateway / burstWallMs), prosody: round2(cpu.prosody / burstWallMs) };
  return { idle, peakKiB, afterKiB, bursts, tally, counters, cpuShare, hwmMiB: peakRssMiB(pid), samples: sampler.samples.length };
}

function report(r) {
  const idleMiB = mib(r.idle.kib);
  const sent = r.bursts.reduce((n, b) => n + b.sent, 0);
  const answered = Object.entries(r.tally.statuses)
    .filter(([s]) => /^\d+$/.test(s))
    .reduce((n, [, c]) => n + c, 0);
  const lat = r.tally.latencies;
  const result = {
    bench: "refresh-flood",
    users: USERS,
    contacts: CONTACTS,
    bursts: BURSTS,
    refreshesPerBurst: REFRESHES,
    burstSeconds: BURST_MS / 1000,
    pauseSeconds: PAUSE_MS / 1000,
    afterSeconds: AFTER_MS / 1000,
    idleRssMiB: idleMiB,
    idleStable: r.idle.stable,
    idleSettleSeconds: r.idle.seconds,
    peakRssMiB: mib(r.peakKiB),
    afterRssMiB: mib(r.afterKiB),
    ratios: { peakToIdle: round2(r.peakKiB / r.idle.kib), afterToIdle: round2(r.afterKiB / r.idle.kib) },
    vmHwmMiB: r.hwmMiB,
    perBurst: r.bursts,
    requestsSent: sent,
    answersByStatus: r.tally.statuses,
    unanswered: sent - answered,
    usersFailedIn200: r.tally.userErrors,
    latencyMs: { p50: Math.round(percentile(lat, 50)), p99: Math.round(percentile(lat, 99)), max: Math.round(Math.max(...lat)) },
    rosterMetrics: r.counters,
    cpuShareDuringBursts: r.cpuShare,
    rostersEqualToWebApp: `${r.rostersEqual}/${USERS}`,
    gatewayCrashes: r.crashes,
    gatewayExitCode: r.exitCode,
    syncFailuresLogged: r.syncFailuresLogged,
    linkLosses: r.linkLosses,
    issue: ISSUE,
    machine: machine(),
  };
  return result;
}

function print(x) {
  const m = x.machine;
  const total = BURSTS * REFRESHES;
  console.log(
    `\nrefresh-flood: ${BURSTS} bursts of ${REFRESHES} refreshes in ${BURST_MS / 1000} s (${PAUSE_MS / 1000} s apart), ${USERS} offline users × ${CONTACTS} contacts`,
  );
  console.log(`machine: ${m.cpus} × ${m.cpu ?? "cpu"}, ${m.memGiB} GiB, Node ${m.node}`);
  console.log(`gateway RSS idle    ${x.idleRssMiB} MiB (stable: ${x.idleStable}, after ${x.idleSettleSeconds} s) — the anchor`);
  console.log(`gateway RSS peak    ${x.peakRssMiB} MiB = ${x.ratios.peakToIdle} × idle (sampled every ${SAMPLE_MS} ms; VmHWM ${x.vmHwmMiB} MiB)`);
  console.log(`gateway RSS after   ${x.afterRssMiB} MiB = ${x.ratios.afterToIdle} × idle (${AFTER_MS / 1000} s after the last answer)`);
  console.log(`issue's figures     ${ISSUE.idleMB} / ${ISSUE.peakMB} / ${ISSUE.afterMB} MB: peak ${ISSUE.peakRatio} ×, after ${ISSUE.afterRatio} × idle`);
  for (const [i, b] of x.perBurst.entries())
    console.log(`  burst ${i + 1}: ${b.sent} sent in ${b.sendMs} ms, all answered after ${b.doneMs} ms, peak ${b.peakMiB} MiB, at its end ${b.endMiB} MiB`);
  console.log(
    `answers             ${JSON.stringify(x.answersByStatus)} of ${x.requestsSent}/${total} sent; unanswered ${x.unanswered}; users failed inside a 200: ${x.usersFailedIn200}`,
  );
  console.log(`latency             p50 ${x.latencyMs.p50} ms, p99 ${x.latencyMs.p99} ms, max ${x.latencyMs.max} ms`);
  const c = x.rosterMetrics;
  console.log(`rosters synced      ${c.syncsOk} syncs ok, ${c.syncsFailed} failed (/metrics); ${c.edits} roster edits in ${c.sets} roster sets`);
  console.log(`CPU during bursts   gateway ${x.cpuShareDuringBursts.gateway}, Prosody ${x.cpuShareDuringBursts.prosody} (cores)`);
  console.log(`rosters = web app   ${x.rostersEqualToWebApp}; sync failures logged ${x.syncFailuresLogged}; link losses ${x.linkLosses}`);
  console.log(`gateway             crashes ${x.gatewayCrashes}, exit code on SIGTERM ${x.gatewayExitCode}\n`);
  console.log(JSON.stringify(x));
}

const backend = await startHttpBackend((req) => ({ body: webRoster(decodeURIComponent(req.url.split("/").pop())) }));
const prosody = await startServer();
const prosodyPid = Number(readFileSync(join(prosody.dir, "prosody.pid"), "utf8"));
const gateway = await startGatewayProcess(
  prosody,
  `modules_enabled: [http-roster-admin]
http-roster-admin:
  http_roster_url: ${backend.url}/contacts/%s
  http_roster_sync_on_login: false
`,
);
const run = await flood(gateway, prosodyPid);
run.rostersEqual = await rostersEqual(prosody);
const lines = gateway.log.split("\n");
run.syncFailuresLogged = lines.filter((l) => l.includes('"roster sync failed')).length;
run.linkLosses = lines.filter((l) => l.includes('"link to the server lost"')).length;
run.exitCode = await gateway.stop();
run.crashes = gateway.crashes;
await prosody.stop();
await backend.close();
print(report(run));
if (run.crashes || run.syncFailuresLogged)
  console.error(
    lines
      .filter((l) => /"level":[456]0/.test(l))
      .slice(-20)
      .join("\n"),
  );
