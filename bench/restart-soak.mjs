// bench/restart-soak: restart Prosody again and again while work flows through the gateway, and count what
// was lost.
//
//   pnpm --filter @xmppkit/bench restart-soak [--rounds 20] [--users 10] [--flow 1500]
//
// A real Prosody (Debian package) and the gateway as its own process (`xmppkit-gateway`, as deployed) with
// report-forward (staff: mod@localhost), http-roster-admin (a local web app whose rosters change with every
// refresh) and audit-geoip (SQLite). While reports are posted every 30 ms and all users' rosters refreshed
// every 250 ms, Prosody is restarted `--rounds` times, `--flow` ms apart. Then the flow stops and the bench
// waits for the outbox to drain and checks:
//   - rounds back online: the gateway's /healthz is 200 again after each restart (and how long it took);
//   - accepted reports delivered: every report answered 202 reached mod@localhost (and how many twice);
//   - audit events: one report-received per accepted report, and one delivered report-forwarded to mod;
//   - rosters: after a final refresh, every user's roster equals the web app's;
//   - crashes: the gateway process never exited on its own, and exits 0 on SIGTERM.
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openSqliteStore } from "@xmppkit/runtime";
import { loginClient, startHttpBackend, startProsody } from "@xmppkit/testing";
import { sleep, startGatewayProcess } from "./lib/gateway-process.mjs";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "20" },
    users: { type: "string", default: "10" },
    flow: { type: "string", default: "1500" },
  },
});
const ROUNDS = Number(args.rounds);
const USERS = Number(args.users);
const FLOW_MS = Number(args.flow);

// The web app: each refresh bumps the version; a user's roster is 10 contacts named after it, plus one
// contact that comes and goes.
let version = 0;
const webRoster = (user, v = version) => {
  const out = {};
  for (let j = 0; j < 10; j++) out[`c${j}@example.com`] = { name: `${user} c${j} v${v}`, groups: [`G${(j + v) % 3}`] };
  if (v % 2 === 0) out["sometimes@example.com"] = { name: `v${v}` };
  return out;
};
const backend = await startHttpBackend((req) => ({ body: webRoster(decodeURIComponent(req.url.split("/").pop())) }));

const users = Object.fromEntries(Array.from({ length: USERS }, (_, i) => [`u${i}`, "pw"]));
const prosody = await startProsody({ users: { mod: "modpw", ...users }, muc: false, logLevel: "info" });
const sqlite = join(prosody.dir, "gateway.sqlite");
const gateway = await startGatewayProcess(
  prosody,
  `storage:
  sqlite: ${sqlite}
modules_enabled: [report-forward, http-roster-admin, audit-geoip]
report-forward:
  report_forward_to_staff: [mod@${prosody.domain}]
  report_forward_reported_limit: 0
  report_forward_digest_after: 0
http-roster-admin:
  http_roster_url: ${backend.url}/contacts/%s
  http_roster_sync_on_login: false
`,
  { component: "  keepalive_interval: 5\n  reconnect_max_delay: 2\n" },
);

// mod@localhost, the staff: logged in again after each restart; counts the reports it gets, by report id.
const deliveries = new Map();
let mod;
async function modOnline() {
  for (;;) {
    try {
      const c = await loginClient(prosody, "mod", { password: "modpw" });
      c.xmpp.on("stanza", (el) => {
        if (el.name !== "message" || el.attrs.type === "error" || !el.getChild("report", "urn:xmpp:reporting:1")) return;
        const id = String(el.attrs.id).split(".")[0];
        deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
      });
      c.xmpp.on("disconnect", () => {
        if (!gateway.stopping) void modOnline();
      });
      mod = c;
      return;
    } catch {
      await sleep(200);
    }
  }
}
await modOnline();

const accepted = [];
const statuses = { reports: {}, refreshes: {} };
const count = (bucket, status) => (bucket[status] = (bucket[status] ?? 0) + 1);
let flowing = true;
let n = 0;
const reporter = (async () => {
  while (flowing) {
    const i = n++;
    const res = await gateway.post("/reports", { jid: `spammer${i}@spam.example`, reason: "spam", text: `report ${i}` });
    count(statuses.reports, res?.status ?? "network");
    if (res?.status === 202) accepted.push((await res.json()).id);
    await sleep(30);
  }
})();
const all = Object.keys(users);
const refresher = (async () => {
  while (flowing) {
    version += 1;
    const res = await gateway.post("/roster_admin/refresh", all);
    count(statuses.refreshes, res?.status ?? "network");
    await sleep(250);
  }
})();

const backOnline = [];
for (let r = 0; r < ROUNDS; r++) {
  await sleep(FLOW_MS);
  await prosody.restart();
  const ms = await gateway.healthy();
  backOnline.push(ms);
}
await sleep(FLOW_MS);
flowing = false;
await Promise.all([reporter, refresher]);

// The last word of the web app, then wait for the outbox to drain.
version += 1;
const finalRefresh = await (await gateway.post("/roster_admin/refresh", all)).json();
const drainStart = performance.now();
while (performance.now() - drainStart < 120_000) {
  const metrics = await gateway.get("/metrics");
  const waiting = Number(/xmppkit_report_forward_outbox_reports (\d+)/.exec(metrics)?.[1] ?? "1");
  if (waiting === 0 && accepted.every((id) => deliveries.has(id))) break;
  await sleep(250);
}

// Rosters as the users see them.
let rostersEqual = 0;
for (const u of all) {
  const c = await loginClient(prosody, u, { password: "pw", presence: false });
  const items = (await c.fetchRoster())
    .getChild("query")
    .getChildren("item")
    .map((i) => [
      i.attrs.jid,
      i.attrs.name ?? "",
      i
        .getChildren("group")
        .map((g) => g.getText())
        .sort()
        .join(","),
    ]);
  const want = Object.entries(webRoster(u)).map(([jid, v]) => [jid, v.name ?? "", (v.groups ?? []).slice().sort().join(",")]);
  const key = (rows) => JSON.stringify(rows.sort());
  if (key(items) === key(want)) rostersEqual += 1;
  await c.stop();
}

gateway.stopping = true;
await mod?.stop();
const exitCode = await gateway.stop();
const crashed = gateway.crashes;

// The audit log, read from the gateway's store after it stopped.
const store = await openSqliteStore(sqlite);
const rows = await store.query("SELECT type, details FROM xmppkit_audit WHERE type IN ('report-received', 'report-forwarded')");
await store.close();
const received = new Map();
const forwardedToMod = new Map();
for (const row of rows) {
  const d = JSON.parse(row.details ?? "{}");
  if (row.type === "report-received") received.set(d.id, (received.get(d.id) ?? 0) + 1);
  else
    for (const dest of d.destinations ?? []) if (dest.ok && dest.jid === `mod@${prosody.domain}`) forwardedToMod.set(d.id, (forwardedToMod.get(d.id) ?? 0) + 1);
}
await prosody.stop();
await backend.close();

const online = backOnline
  .filter((x) => x !== undefined)
  .map((x) => Math.round(x))
  .sort((a, b) => a - b);
const result = {
  bench: "restart-soak",
  rounds: ROUNDS,
  roundsBackOnline: online.length,
  backOnlineMs: { min: online[0], median: online[Math.floor(online.length / 2)], max: online.at(-1) },
  reportsPosted: n,
  reportsAccepted: accepted.length,
  reportStatuses: statuses.reports,
  acceptedDelivered: accepted.filter((id) => deliveries.has(id)).length,
  acceptedLost: accepted.filter((id) => !deliveries.has(id)).length,
  deliveredTwice: accepted.filter((id) => (deliveries.get(id) ?? 0) > 1).length,
  auditReceived: {
    expected: accepted.length,
    stored: accepted.filter((id) => received.get(id) === 1).length,
    missing: accepted.filter((id) => !received.has(id)).length,
    duplicated: [...received.values()].filter((c) => c > 1).length,
  },
  auditDeliveredToStaff: {
    expected: accepted.length,
    stored: accepted.filter((id) => forwardedToMod.get(id) === 1).length,
    missing: accepted.filter((id) => !forwardedToMod.has(id)).length,
    duplicated: [...forwardedToMod.values()].filter((c) => c > 1).length,
  },
  refreshStatuses: statuses.refreshes,
  finalRefresh,
  rostersEqualToWebApp: `${rostersEqual}/${all.length}`,
  gatewayCrashes: crashed,
  gatewayExitCode: exitCode,
};
console.log(`\nrestart-soak: ${ROUNDS} Prosody restarts, ${FLOW_MS} ms of work between them`);
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
console.table({
  "rounds back online": `${result.roundsBackOnline}/${ROUNDS} (median ${result.backOnlineMs.median} ms, max ${result.backOnlineMs.max} ms)`,
  "reports accepted (202)": result.reportsAccepted,
  "accepted reports delivered to staff": `${result.acceptedDelivered} (lost ${result.acceptedLost}, twice ${result.deliveredTwice})`,
  "audit report-received stored": `${result.auditReceived.stored}/${accepted.length} (missing ${result.auditReceived.missing}, duplicated ${result.auditReceived.duplicated})`,
  "audit deliveries to staff stored": `${result.auditDeliveredToStaff.stored}/${accepted.length} (missing ${result.auditDeliveredToStaff.missing}, duplicated ${result.auditDeliveredToStaff.duplicated})`,
  "rosters equal to the web app": result.rostersEqualToWebApp,
  "gateway crashes": crashed,
  "gateway exit code on SIGTERM": exitCode,
});
console.log(JSON.stringify(result));
if (crashed || result.acceptedLost) console.error(gateway.log.split("\n").slice(-40).join("\n"));
