// bench/self-ping: how long a component in 1,000 MUC rooms needs, after its link comes back, until every
// room's XEP-0410 verdict is in — and what a tracked join costs in memory.
//
//   pnpm --filter @xmppkit/bench self-ping [--rooms 1000] [--concurrency 1,16,64] [--room-cache 2000]
//
// Starts a real Prosody (Debian package, log at info) with its MUC, connects an @xmpp/component with
// track-muc-joins and ping-muc (delay 0, no jitter, so the figure is the fan-out itself), joins `--rooms`
// rooms (each created by the join and accepted as an instant room), then for each concurrency cap drops the
// TCP link, lets the lifecycle reconnect, and times link-restored → last verdict. Memory per tracked join is
// measured on the pure JoinTracker (100,000 synthetic joins, heap delta after GC; run with --expose-gc).
// `--room-cache` sets Prosody's muc_room_cache_size (default 100): with more live rooms than that, Prosody
// evicts and reloads rooms on every access, and that — not the client — dominates (see ping-muc's README).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cpus, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { component } from "@xmpp/component";
import { createLimiter, setupKit, xml } from "@xmppkit/core";
import { setupPingMuc } from "@xmppkit/ping-muc";
import { JoinTracker, NS_MUC, NS_MUC_USER, setupMucJoins } from "@xmppkit/track-muc-joins";
import { startProsody } from "@xmppkit/testing";

const { values: args } = parseArgs({
  options: {
    rooms: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "1,16,64" },
    "room-cache": { type: "string" },
  },
});
const ROOMS = Number(args.rooms);
const CAPS = args.concurrency.split(",").map(Number);

// 1. Memory per tracked join, on the state machine alone.
function bytesPerJoin(n = 100_000) {
  if (!global.gc) return NaN;
  const me = "gateway.localhost";
  global.gc();
  const before = process.memoryUsage().heapUsed;
  const tracker = new JoinTracker();
  for (let i = 0; i < n; i++) {
    const room = `room${i}@conference.localhost`;
    tracker.outgoing(xml("presence", { to: `${room}/abuse-desk` }, xml("x", NS_MUC)), me);
    tracker.incoming(xml("presence", { from: `${room}/abuse-desk`, to: me }, xml("x", NS_MUC_USER, xml("status", { code: "110" }))));
  }
  global.gc();
  const after = process.memoryUsage().heapUsed;
  if (tracker.rooms(me).size !== n) throw new Error("tracker lost joins");
  return Math.round((after - before) / n);
}
const perJoin = bytesPerJoin();

// 2. The fan-out against a real Prosody.
const CACHE = args["room-cache"] ? Number(args["room-cache"]) : undefined;
const prosody = await startProsody({
  users: {},
  logLevel: "info",
  component: { privileges: false },
  ...(CACHE ? { globalConfig: `muc_room_cache_size = ${CACHE}` } : {}),
});
const prosodyPid = Number(readFileSync(join(prosody.dir, "prosody.pid"), "utf8"));
/** CPU seconds used so far by Prosody and by this process. */
const cpu = () => {
  const f = readFileSync(`/proc/${prosodyPid}/stat`, "utf8").split(") ")[1].split(" ");
  const u = process.cpuUsage();
  return { prosody: (Number(f[11]) + Number(f[12])) / 100, node: (u.user + u.system) / 1e6 };
};
const entity = component({ service: prosody.component.service, domain: prosody.component.domain, password: prosody.component.secret });
const kit = setupKit(entity, { serverDomain: prosody.domain, ping: { interval: 0 }, lifecycle: { backoff: { initial: 50, max: 50, jitter: 0 } } });
const joins = setupMucJoins(kit, { joinTimeout: 60_000 });
let ping;
await kit.lifecycle.start();

const joinStarted = performance.now();
const limit = createLimiter(32);
await Promise.all(
  Array.from({ length: ROOMS }, (_, i) => limit(() => joins.join(`room${i}@${prosody.muc}`, { nick: "abuse-desk", history: { maxstanzas: 0 } }))),
);
const joinSeconds = (performance.now() - joinStarted) / 1000;
if (joins.rooms().size !== ROOMS) throw new Error(`joined ${joins.rooms().size} of ${ROOMS} rooms`);

const results = [];
for (const cap of CAPS) {
  ping?.stop();
  ping = setupPingMuc({ ...kit, joins }, { delay: 0, jitter: 0, concurrency: cap, timeout: 60_000 });
  const verdicts = { joined: 0, "not-joined": 0, undecided: 0 };
  let restoredAt = 0;
  let lastAt = 0;
  const done = new Promise((resolve) => {
    ping.on("self-ping", (r) => {
      verdicts[r.verdict]++;
      lastAt = performance.now();
      if (verdicts.joined + verdicts["not-joined"] + verdicts.undecided === ROOMS) resolve();
    });
  });
  const cpuBefore = cpu();
  const restored = kit.lifecycle.next("link-restored", 30_000).then(() => (restoredAt = performance.now()));
  kit.lifecycle.dropLink("bench: simulated link loss");
  await restored;
  await done;
  const ms = lastAt - restoredAt;
  const cpuAfter = cpu();
  results.push({
    concurrency: cap,
    rooms: ROOMS,
    "all verdicts (ms)": Math.round(ms),
    "pings/s": Math.round(ROOMS / (ms / 1000)),
    ...verdicts,
    "Prosody CPU (s)": +(cpuAfter.prosody - cpuBefore.prosody).toFixed(2),
    "client CPU (s)": +(cpuAfter.node - cpuBefore.node).toFixed(2),
  });
}

ping.stop();
const rssMiB = Math.round(process.memoryUsage().rss / 2 ** 20);
await joins.leaveAll({ timeout: 60_000 });
joins.stop();
await kit.lifecycle.stop();
await prosody.stop();

console.log(`\nself-ping: one component in ${ROOMS} rooms on Prosody's MUC (joined in ${joinSeconds.toFixed(1)} s)`);
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
console.table(results);
console.log(`memory per tracked join: ${perJoin} bytes (JoinTracker, 100k joins); process RSS with ${ROOMS} rooms: ${rssMiB} MiB`);
console.log(JSON.stringify({ bench: "self-ping", rooms: ROOMS, joinSeconds: +joinSeconds.toFixed(2), results, bytesPerJoin: perJoin, rssMiB }));
