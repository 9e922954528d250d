// bench/roster-refresh: how fast the gateway mirrors a web app's rosters into a real Prosody, with and
// without Prosody's companion module mod_xmppkit_roster_batch, on Prosody's file, memory and SQL storage.
//
//   pnpm --filter @xmppkit/bench roster-refresh [--users 100] [--contacts 50] [--online 100] [--rounds 3]
//     [--storage internal,memory,sql] [--batch on,off] [--concurrency 32] [--pipeline 32]
//
// Per configuration (storage × batch): a real Prosody (Debian package, log at info), a local HTTP backend
// serving `--contacts` contacts per user, and the gateway as its own process (`xmppkit-gateway`, as
// deployed) with http-roster-admin; `--online` users logged in with a fetched roster, so Prosody pushes every
// change to them. Each round: the rosters are emptied (not measured), then three refreshes of all users
// through `POST /roster_admin/refresh`, timed from the POST to its answer:
//   initial   — every contact is new;
//   changed   — 5 of 50 contacts replaced by others (10 %: 5 removals and 5 additions per user);
//   unchanged — nothing to do.
// Reported per phase (medians over rounds): the time, Prosody's CPU and the gateway's CPU (from
// /proc/<pid>/stat), Prosody's CPU per roster set the gateway sent (a batch or a single item), and the time
// against the anchor: Prosody's own mod_http_roster_admin with the same web app, measured on this machine
// (it cannot be installed from the registries here; its figures are constants below).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loginClient, startHttpBackend, startProsody } from "@xmppkit/testing";
import { sleep, startGatewayProcess } from "./lib/gateway-process.mjs";

/** Prosody 0.12 + mod_http_roster_admin, 100 users online × 50 contacts, same machine (issue 16), ms. */
const ANCHOR_MS = { initial: 593, changed: 226, unchanged: 82 };

const { values: args } = parseArgs({
  options: {
    users: { type: "string", default: "100" },
    contacts: { type: "string", default: "50" },
    online: { type: "string" },
    rounds: { type: "string", default: "3" },
    storage: { type: "string", default: "internal,memory,sql" },
    batch: { type: "string", default: "on,off" },
    concurrency: { type: "string", default: "32" },
    pipeline: { type: "string", default: "32" },
  },
});
const USERS = Number(args.users);
const CONTACTS = Number(args.contacts);
const ONLINE = Math.min(Number(args.online ?? args.users), USERS);
const ROUNDS = Number(args.rounds);
const PLUGINS = join(import.meta.dirname, "../packages/http-roster-admin/prosody");
const PHASES = ["initial", "changed", "unchanged"];

const username = (i) => `user${i}`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const TICK_MS = 1000 / 100; // USER_HZ
/** CPU time (user + system) of a process so far, in ms. */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

let phase = "empty";
let round = 0;
function webRoster(user) {
  if (phase === "empty") return {};
  const out = {};
  const n = Number(user.slice(4));
  for (let j = 0; j < CONTACTS; j++) {
    // "changed" (and "unchanged" after it): every tenth contact replaced by another one.
    const replaced = phase !== "initial" && j % 10 === 0;
    const id = (n + j + round * 7) % 5000;
    out[replaced ? `other${id}@example.net` : `contact${id}@example.com`] = { name: `Contact ${j}`, groups: [`Group ${j % 5}`] };
  }
  return out;
}

async function runConfig(storage, batch, backend) {
  const prosody = await startProsody({
    users: {},
    muc: false,
    logLevel: "info",
    storage,
    ...(batch ? { pluginPaths: [PLUGINS], modules: ["xmppkit_roster_batch"] } : {}),
  });
  const accounts = join(prosody.dir, "data", "localhost", "accounts");
  mkdirSync(accounts, { recursive: true });
  // Accounts as files (prosodyctl takes ~0.3 s each); the running server reads them on demand.
  for (let i = 0; i < USERS; i++) writeFileSync(join(accounts, `${username(i)}.dat`), `return {\n\t["password"] = "pw";\n};\n`);
  const gateway = await startGatewayProcess(
    prosody,
    `modules_enabled: [http-roster-admin]
http-roster-admin:
  http_roster_url: ${backend.url}/contacts/%s
  http_roster_concurrency: ${args.concurrency}
  http_roster_pipeline: ${args.pipeline}
  http_roster_sync_on_login: false
  http_roster_batch: ${batch ? "true" : "false"}
`,
  );
  if (batch) {
    for (let i = 0; i < 100 && !gateway.log.includes("the server batches roster sets"); i++) await sleep(50);
    if (!gateway.log.includes("the server batches roster sets")) throw new Error("the gateway did not find mod_xmppkit_roster_batch");
  }
  const clients = [];
  for (let i = 0; i < ONLINE; i += 10) {
    const batchOf = await Promise.all(Array.from({ length: Math.min(10, ONLINE - i) }, (_, k) => loginClient(prosody, username(i + k), { password: "pw" })));
    await Promise.all(batchOf.map((c) => c.fetchRoster()));
    clients.push(...batchOf);
  }
  const prosodyPid = Number(readFileSync(join(prosody.dir, "prosody.pid"), "utf8"));
  const all = Array.from({ length: USERS }, (_, i) => username(i));
  const setsSent = async () => {
    const m = /xmppkit_http_roster_admin_roster_sets_total(?:\{[^}]*\})? (\d+)/.exec(await gateway.get("/metrics"));
    return m ? Number(m[1]) : NaN;
  };
  const samples = Object.fromEntries(PHASES.map((p) => [p, []]));
  for (round = 0; round < ROUNDS; round++) {
    phase = "empty";
    await gateway.post("/roster_admin/refresh", all);
    for (phase of PHASES) {
      const [p0, g0, s0] = [cpuMs(prosodyPid), cpuMs(gateway.child.pid), await setsSent()];
      const started = performance.now();
      const body = await (await gateway.post("/roster_admin/refresh", all)).json();
      const ms = performance.now() - started;
      if (body.errors) {
        const why = gateway.log
          .split("\n")
          .filter((l) => l.includes("roster sync failed"))
          .slice(-3)
          .join("\n");
        throw new Error(`${phase}: ${body.errors} users failed: ${body.message}\n${why}`);
      }
      const [p1, g1, s1] = [cpuMs(prosodyPid), cpuMs(gateway.child.pid), await setsSent()];
      samples[phase].push({ ms, prosodyCpu: p1 - p0, gatewayCpu: g1 - g0, sets: s1 - s0 });
    }
  }
  await sleep(200);
  const pushes = clients.reduce((n, c) => n + c.rosterPushes.length, 0);
  for (const c of clients) await c.stop();
  await gateway.stop();
  await prosody.stop();
  return PHASES.map((p) => {
    const s = samples[p];
    const ms = median(s.map((x) => x.ms));
    const prosodyCpu = median(s.map((x) => x.prosodyCpu));
    const gatewayCpu = median(s.map((x) => x.gatewayCpu));
    const sets = median(s.map((x) => x.sets));
    return {
      storage,
      batch: batch ? "on" : "off",
      phase: p,
      ms: Math.round(ms),
      "÷ anchor": +(ms / ANCHOR_MS[p]).toFixed(2),
      prosodyCpuMs: Math.round(prosodyCpu),
      prosodyShare: `${Math.round((100 * prosodyCpu) / ms)} %`,
      gatewayCpuMs: Math.round(gatewayCpu),
      gatewayCpuPerUserMs: +(gatewayCpu / USERS).toFixed(2),
      sets,
      prosodyUsPerSet: sets ? Math.round((1000 * prosodyCpu) / sets) : 0,
      pushes: p === "initial" ? pushes : undefined,
    };
  });
}

const backend = await startHttpBackend((req) => ({ body: webRoster(decodeURIComponent(req.url.split("/").pop())) }));
const results = [];
for (const storage of args.storage.split(",")) {
  for (const b of args.batch.split(",")) results.push(...(await runConfig(storage, b === "on", backend)));
}
await backend.close();

console.log(`\nroster-refresh: ${USERS} users × ${CONTACTS} contacts, ${ONLINE} online, ${ROUNDS} rounds (medians)`);
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
console.log(
  `anchor (Prosody's mod_http_roster_admin, same machine): initial ${ANCHOR_MS.initial} ms, changed ${ANCHOR_MS.changed} ms, unchanged ${ANCHOR_MS.unchanged} ms`,
);
console.table(results.map(({ pushes, ...r }) => r));
console.log(JSON.stringify({ bench: "roster-refresh", users: USERS, contacts: CONTACTS, online: ONLINE, rounds: ROUNDS, anchorMs: ANCHOR_MS, results }));
