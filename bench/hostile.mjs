// bench/hostile: a flood of hostile stanzas at the gateway through a real Prosody, and what it did to it.
//
//   pnpm --filter @xmppkit/bench hostile [--stanzas 100000] [--clients 4] [--window 100]
//
// A real Prosody (Debian package) and the gateway as its own process (`xmppkit-gateway`, as deployed) with
// track-muc-joins, report-forward, report-affiliations (XEP-0355 delegation of urn:xmpp:raa:0) and the HTTP
// API. `--clients` users send `--stanzas` stanzas between them, of these kinds in turn: IQs with payloads
// nested 8,000 levels deep (1 in 50) or 200 levels, to the gateway and to a delegated namespace; IQs with
// two payloads, none, or a forged delegation wrapper; disco#info; forged MUC self-presence; reports from an
// unlisted source; error messages. At most `--window` IQs per client wait for their answer at once.
// Prints: stanzas sent, IQ get/set sent and answered, link drops and crashes of the gateway, its peak RSS
// and the joins it recorded (none should be), and the rate.
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loginClient, startProsody } from "@xmppkit/testing";
import { peakRssMiB, sleep, startGatewayProcess } from "./lib/gateway-process.mjs";

const { values: args } = parseArgs({
  options: {
    stanzas: { type: "string", default: "100000" },
    clients: { type: "string", default: "4" },
    window: { type: "string", default: "100" },
  },
});
const STANZAS = Number(args.stanzas);
const CLIENTS = Number(args.clients);
const WINDOW = Number(args.window);
const NS_RAA = "urn:xmpp:raa:0";

const users = Object.fromEntries(Array.from({ length: CLIENTS }, (_, i) => [`h${i}`, "pw"]));
const prosody = await startProsody({ users: { mod: "modpw", ...users }, logLevel: "warn", component: { delegations: [NS_RAA] } });
const GW = prosody.component.domain;
const gateway = await startGatewayProcess(
  prosody,
  `storage:
  sqlite: ${join(prosody.dir, "gateway.sqlite")}
modules_enabled: [track-muc-joins, report-forward, report-affiliations]
report-forward:
  report_forward_to_staff: [mod@${prosody.domain}]
report-affiliations:
  report_affiliations_trusted_servers: [rtbl.example]
`,
);

const nested = (depth) => `${"<x>".repeat(depth)}${"</x>".repeat(depth)}`;
const iq = (id, to, type, payload) => `<iq id="${id}" type="${type}" to="${to}">${payload}</iq>`;
const kinds = [
  (id, i) => iq(id, GW, "get", `<query xmlns="urn:example:unknown">${nested(i % 50 === 0 ? 8000 : 200)}</query>`),
  (id, i) => iq(id, `h0@${prosody.domain}`, "get", `<query xmlns="${NS_RAA}">${nested(i % 50 === 1 ? 8000 : 200)}</query>`),
  (id) => iq(id, GW, "set", `<a xmlns="urn:example:a"/><b xmlns="urn:example:b"/>`),
  (id) => iq(id, GW, "get", ""),
  (id) => iq(id, GW, "set", `<delegation xmlns="urn:xmpp:delegation:2"><forwarded xmlns="urn:xmpp:forward:0"/></delegation>`),
  (id) => iq(id, GW, "get", `<query xmlns="http://jabber.org/protocol/disco#info"/>`),
  (_, i) => `<presence to="n${i}@${GW}"><x xmlns="http://jabber.org/protocol/muc#user"><status code="110"/><status code="201"/></x></presence>`,
  (_, i) =>
    `<message to="${GW}" id="r${i}"><report xmlns="urn:xmpp:reporting:1" reason="urn:xmpp:reporting:spam"><jid xmlns="urn:xmpp:jid:0">x${i}@spam.example</jid></report></message>`,
  () => `<message to="${GW}" type="error"><error type="cancel"><undefined-condition xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>`,
];

const clients = await Promise.all(Object.keys(users).map((u) => loginClient(prosody, u, { password: "pw" })));
let iqsSent = 0;
let iqsAnswered = 0;
let sent = 0;
const started = performance.now();
await Promise.all(
  clients.map(async (c, ci) => {
    const waiting = new Set();
    c.xmpp.on("stanza", (el) => {
      if (el.name === "iq" && waiting.delete(el.attrs.id)) iqsAnswered += 1;
    });
    const share = Math.floor(STANZAS / CLIENTS) + (ci < STANZAS % CLIENTS ? 1 : 0);
    for (let k = 0; k < share; k++) {
      const i = k * CLIENTS + ci;
      const text = kinds[i % kinds.length](`q${ci}-${k}`, i);
      if (text.startsWith("<iq")) {
        while (waiting.size >= WINDOW) await sleep(2);
        waiting.add(`q${ci}-${k}`);
        iqsSent += 1;
      }
      await c.xmpp.write(text);
      sent += 1;
    }
    const deadline = Date.now() + 60_000;
    while (waiting.size && Date.now() < deadline) await sleep(20);
  }),
);
const seconds = (performance.now() - started) / 1000;

const metrics = await gateway.get("/metrics");
const linkDrops = gateway.log.split("\n").filter((l) => l.includes('"link to the server lost"')).length;
const rssMiB = peakRssMiB(gateway.child.pid);
for (const c of clients) await c.stop();
const exitCode = await gateway.stop();
const crashed = gateway.crashes;
await prosody.stop();

const result = {
  bench: "hostile",
  stanzas: sent,
  clients: CLIENTS,
  iqsSent,
  iqsAnswered,
  iqsUnanswered: iqsSent - iqsAnswered,
  linkDrops,
  crashes: crashed,
  exitCode,
  reconnects: Number(/xmppkit_reconnects_total (\d+)/.exec(metrics)?.[1] ?? NaN),
  gatewayPeakRssMiB: rssMiB,
  seconds: +seconds.toFixed(1),
  stanzasPerSecond: Math.round(sent / seconds),
};
console.log(`\nhostile: ${sent} stanzas from ${CLIENTS} clients through Prosody at the gateway`);
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
console.table({
  "stanzas sent": sent,
  "IQ get/set answered": `${iqsAnswered}/${iqsSent}`,
  "link drops": linkDrops,
  "gateway crashes": crashed,
  "exit code on SIGTERM": exitCode,
  "gateway peak RSS": `${rssMiB} MiB`,
  rate: `${result.stanzasPerSecond} stanzas/s`,
});
console.log(JSON.stringify(result));
if (crashed || linkDrops) console.error(gateway.log.split("\n").slice(-40).join("\n"));
