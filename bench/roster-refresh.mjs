// bench/roster-refresh: how fast the gateway mirrors a web app's rosters into a real Prosody.
//
//   pnpm --filter @xmppkit/bench roster-refresh [--users 1000] [--contacts 50] [--online 20] [--concurrency 32]
//
//   [--pipeline 32]
// Starts a real Prosody (Debian package, file log at info so logging does not dominate), a local HTTP
// backend serving `--contacts` contacts per user, and the gateway as its own process (`xmppkit-gateway`,
// exactly as deployed) with http-roster-admin. `--online` users are logged in with a fetched roster, so they
// get roster pushes. Three refreshes of all users through `POST /roster_admin/refresh`:
//   initial   — every contact is new (users × contacts privileged roster sets);
//   unchanged — nothing to do (fetch + privileged roster get per user, no set, no push);
//   changed   — 10 % of each user's contacts renamed.
// Prints users/s, per-user sync latency p50/p99 (the gateway's own measure, from its log), and peak RSS
// (VmHWM) of the gateway and Prosody processes.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loginClient, startHttpBackend, startProsody } from "@xmppkit/testing";
import { peakRssMiB, startGatewayProcess } from "./lib/gateway-process.mjs";

const { values: args } = parseArgs({
  options: {
    users: { type: "string", default: "1000" },
    contacts: { type: "string", default: "50" },
    online: { type: "string", default: "20" },
    concurrency: { type: "string", default: "32" },
    pipeline: { type: "string", default: "32" },
  },
});
const USERS = Number(args.users);
const CONTACTS = Number(args.contacts);
const ONLINE = Math.min(Number(args.online), USERS);
const CONCURRENCY = Number(args.concurrency);
const PIPELINE = Number(args.pipeline);

const username = (i) => `user${i}`;
let round = "initial";
function webRoster(user) {
  const out = {};
  const n = Number(user.slice(4));
  for (let j = 0; j < CONTACTS; j++) {
    const renamed = round === "changed" && j % 10 === 0;
    out[`contact${(n + j) % 5000}@example.com`] = { name: `Contact ${j}${renamed ? " (renamed)" : ""}`, groups: [`Group ${j % 5}`] };
  }
  return out;
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

const backend = await startHttpBackend((req) => ({ body: webRoster(decodeURIComponent(req.url.split("/").pop())) }));
const prosody = await startProsody({ users: {}, muc: false, logLevel: "info" });
// Offline users: account files written straight into Prosody's internal storage (prosodyctl takes ~0.3 s
// per account); online users are registered properly so that they can log in.
const accounts = join(prosody.dir, "data", "localhost", "accounts");
mkdirSync(accounts, { recursive: true });
for (let i = ONLINE; i < USERS; i++) writeFileSync(join(accounts, `${username(i)}.dat`), `return {\n\t["password"] = "pw";\n};\n`);
for (let i = 0; i < ONLINE; i += 10) {
  await Promise.all(Array.from({ length: Math.min(10, ONLINE - i) }, (_, k) => prosody.createUser(username(i + k), "pw")));
}

const latencies = [];
const gateway = await startGatewayProcess(
  prosody,
  `modules_enabled: [http-roster-admin]
http-roster-admin:
  http_roster_url: ${backend.url}/contacts/%s
  http_roster_concurrency: ${CONCURRENCY}
  http_roster_pipeline: ${PIPELINE}
  http_roster_sync_on_login: false
`,
  {
    logLevel: "debug",
    onLine(line) {
      if (line.includes('"roster synced"') || line.includes('"roster unchanged"')) latencies.push(JSON.parse(line).ms);
    },
  },
);

const clients = [];
for (let i = 0; i < ONLINE; i++) {
  const c = await loginClient(prosody, username(i), { password: "pw" });
  await c.fetchRoster();
  clients.push(c);
}

const all = Array.from({ length: USERS }, (_, i) => username(i));
const results = [];
for (const phase of ["initial", "unchanged", "changed"]) {
  round = phase;
  latencies.length = 0;
  const pushesBefore = clients.reduce((n, c) => n + c.rosterPushes.length, 0);
  const started = performance.now();
  const res = await gateway.post("/roster_admin/refresh", all);
  const body = await res.json();
  const seconds = (performance.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 300)); // let the last log lines and pushes arrive
  const sorted = [...latencies].sort((a, b) => a - b);
  const pushes = clients.reduce((n, c) => n + c.rosterPushes.length, 0) - pushesBefore;
  results.push({
    phase,
    seconds: +seconds.toFixed(2),
    usersPerSecond: Math.round(USERS / seconds),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    updated: body.updated,
    errors: body.errors,
    pushesToOnlineClients: pushes,
  });
}

const gatewayRss = peakRssMiB(gateway.child.pid);
const prosodyPid = Number(readFileSync(join(prosody.dir, "prosody.pid"), "utf8"));
const prosodyRss = peakRssMiB(prosodyPid);
for (const c of clients) await c.stop();
await gateway.stop();
await prosody.stop();
await backend.close();

console.log(`\nroster-refresh: ${USERS} users × ${CONTACTS} contacts, ${ONLINE} online, concurrency ${CONCURRENCY}, pipeline ${PIPELINE}`);
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
console.table(results);
console.log(`peak RSS: gateway ${gatewayRss} MiB, Prosody ${prosodyRss} MiB`);
console.log(
  JSON.stringify({
    bench: "roster-refresh",
    users: USERS,
    contacts: CONTACTS,
    online: ONLINE,
    concurrency: CONCURRENCY,
    pipeline: PIPELINE,
    results,
    gatewayPeakRssMiB: gatewayRss,
    prosodyPeakRssMiB: prosodyRss,
  }),
);
