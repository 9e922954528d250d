// bench/failover: how long an active/standby pair of gateways takes to hand the component link over.
//
//   pnpm --filter @xmppkit/bench run failover [--rounds 20] [--poll 1]
//
// A real Prosody and a real PostgreSQL; two gateway processes (`xmppkit-gateway`, as deployed) with the same
// config, `storage.postgres` and `ha.enabled`. Each round kill -9s the holder and times until the standby's
// /healthz is 200 (link up, grants honoured), then starts the killed one again as the new standby. Between
// rounds, Prosody's log is checked: one accepted component link per round, never two at once (a standby
// never connects). Meanwhile reports are posted every 20 ms to whichever gateway answers, and the staff
// account counts what it receives by report id: accepted reports lost, and delivered more than once.
// Prints min/median/max takeover and one JSON line.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { freePort, loginClient, startPostgres, startProsody } from "@xmppkit/testing";
import { gatewayCli, gatewayYamlHead, sleep } from "./lib/gateway-process.mjs";

const { values: args } = parseArgs({ options: { rounds: { type: "string", default: "20" }, poll: { type: "string", default: "1" } } });
const ROUNDS = Number(args.rounds);

const TOKEN = "failover-token-0123456789abcdef";
const prosody = await startProsody({ logLevel: "info", muc: false, users: { mod: "modpw" } });
const pg = await startPostgres();
const db = await pg.createDatabase("failover");
const links = () => prosody.logTail(1_000_000).match(/External component successfully authenticated/g)?.length ?? 0;

async function startGateway() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "xmppkit-failover-"));
  writeFileSync(
    join(dir, "gateway.yaml"),
    `${gatewayYamlHead(prosody, { port, token: TOKEN })}storage:
  postgres: ${db}
ha:
  enabled: true
  poll_interval: ${args.poll}
log:
  level: warn
  format: json
modules_enabled: [report-forward]
report-forward:
  report_forward_to_staff: [mod@${prosody.domain}]
  report_forward_reported_limit: 0
  report_forward_digest_after: 0
`,
  );
  const child = spawn(process.execPath, [gatewayCli, "--config", join(dir, "gateway.yaml")], { stdio: "ignore" });
  const exited = new Promise((r) => child.once("exit", r));
  // "standby" once PostgreSQL has said another instance holds the lease ("asking" before that).
  const status = () =>
    fetch(`http://127.0.0.1:${port}/healthz`).then(
      async (r) => {
        const { status, reason } = await r.json();
        return status === "standby" && !reason?.includes("another instance holds") ? "asking" : status;
      },
      () => "unreachable",
    );
  const post = (body) =>
    fetch(`http://127.0.0.1:${port}/reports`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    }).catch(() => undefined);
  return { child, exited, status, post };
}
const until = async (fn, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await sleep(20);
  }
};

let holder = await startGateway();
await until(async () => (await holder.status()) === "ok");
let standby = await startGateway();
await until(async () => (await standby.status()) === "standby");

// The staff: counts reports by id.
const staff = await loginClient(prosody, "mod", { password: "modpw" });
const got = new Map();
staff.xmpp.on("stanza", (el) => {
  if (el.name !== "message" || el.attrs.type === "error" || !el.getChild("report", "urn:xmpp:reporting:1")) return;
  const id = String(el.attrs.id).split(".")[0];
  got.set(id, (got.get(id) ?? 0) + 1);
});
const accepted = [];
let flowing = true;
let n = 0;
const reporter = (async () => {
  while (flowing) {
    const i = n++;
    const res =
      (await holder.post({ jid: `spammer${i}@spam.example`, reason: "spam", text: `report ${i}` })) ??
      (await standby.post({ jid: `spammer${i}@spam.example`, reason: "spam", text: `report ${i}` }));
    if (res?.status === 202) accepted.push((await res.json()).id);
    await sleep(20);
  }
})();

const takeovers = [];
let doubleLinks = 0;
for (let round = 0; round < ROUNDS; round++) {
  const before = links();
  const killed = performance.now();
  holder.child.kill("SIGKILL");
  await holder.exited;
  await until(async () => (await standby.status()) === "ok");
  takeovers.push(Math.round(performance.now() - killed));
  if (links() - before !== 1) doubleLinks++;
  [holder, standby] = [standby, await startGateway()];
  await until(async () => (await standby.status()) === "standby");
  await sleep(200 + Math.random() * 800); // the kill lands anywhere in the standby's poll
}
flowing = false;
await reporter;
const drainUntil = Date.now() + 30_000;
while (accepted.some((id) => !got.has(id)) && Date.now() < drainUntil) await sleep(100);
await sleep(500);
const lost = accepted.filter((id) => !got.has(id)).length;
const twice = accepted.filter((id) => (got.get(id) ?? 0) > 1).length;
await staff.stop();
const lastLinks = links();
await sleep(2000);
if (links() !== lastLinks) doubleLinks++;

for (const g of [holder, standby]) {
  g.child.kill("SIGTERM");
  await g.exited;
}
await prosody.stop();
await pg.stop();

const sorted = [...takeovers].sort((a, b) => a - b);
const result = { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted.at(-1) };
console.log(
  `\nfailover: ${ROUNDS} kill -9 of the holder, standby poll ${args.poll} s; ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}`,
);
console.log(`takeover (kill → standby's /healthz 200): min ${result.min} ms, median ${result.median} ms, max ${result.max} ms`);
console.log(`rounds with other than one new component link: ${doubleLinks}`);
console.log(`reports: ${accepted.length} accepted (202), ${accepted.length - lost} delivered to staff, ${lost} lost, ${twice} delivered more than once`);
console.log(
  JSON.stringify({
    bench: "failover",
    rounds: ROUNDS,
    pollSeconds: Number(args.poll),
    takeoverMs: result,
    takeovers,
    doubleLinks,
    reports: { accepted: accepted.length, lost, twice },
  }),
);
