// The quick-start demo: a local Prosody (started here), the gateway CLI beside it with all six modules
// (http-roster-admin, track-muc-joins, ping-muc, report-forward, report-affiliations, audit-geoip), a tiny web
// app that owns alice's contact list and knows about its accounts, and alice, who checks that the gateway
// answers, gets her contacts pushed after a refresh, finds the gateway in its moderators' room, and sees a report
// filed over HTTP posted there; then a block-list service the gateway trusts asks what kind of account alice has
// (XEP-0489, delegated to the gateway by Prosody), and the audit log shows it all. Ctrl-C (or SIGTERM, or SIGHUP
// when the terminal goes away) stops everything it started. `--once` runs the checks and exits (tests).
import { spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { component } from "@xmpp/component";
import { xml } from "@xmppkit/core";
import { NS_RAA } from "@xmppkit/report-affiliations";
import { closeClient, enterRoom, freePort, loginClient, startHttpBackend, startProsody } from "@xmppkit/testing";

const here = dirname(fileURLToPath(import.meta.url));
const once = process.argv.includes("--once");
const say = (msg) => process.stdout.write(`\x1b[1mdemo:\x1b[0m ${msg}\n`);

// What to stop, newest first. Signals are handled from the start, so nothing started here outlives the demo:
// Ctrl-C and SIGTERM, and SIGHUP (the terminal closed: Prosody would take it as "reload" and stay).
const running = [];
let stopping = false;
let gatewayCode = null;
async function shutdown(code) {
  if (stopping) return new Promise(() => undefined); // the first call exits the process
  stopping = true;
  for (const { name, stop } of running.reverse()) {
    try {
      await stop();
    } catch (err) {
      say(`stopping ${name}: ${err.message}`);
    }
  }
  say(`stopped (gateway exit code ${gatewayCode})`);
  process.exit(code ?? (gatewayCode === 0 ? 0 : 1));
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => void shutdown(0));

// The trusted block-list service is a second component of the same Prosody; the host delegates urn:xmpp:raa:0
// (XEP-0355) to the gateway, as examples/prosody-gateway.cfg.lua shows.
const RTBL = "rtbl.localhost";
const prosody = await startProsody({
  users: { alice: "alicepw", bob: "bobpw" },
  component: { delegations: [NS_RAA] },
  components: [{ domain: RTBL, privileges: false }],
});
running.push({ name: "Prosody", stop: () => prosody.stop() });
say(`Prosody ${prosody.version} (${prosody.domain}) is up: c2s ${prosody.c2s.service}, component port ${prosody.component.service} (log: ${prosody.logFile})`);

// The "web application": GET /contacts/{username} → that user's contacts; GET /accounts/{username} → what it
// knows about the account (report-affiliations' HTTP provider), 404 for nothing.
const contacts = { alice: {} };
const accounts = { alice: { since: "2024-11-22T10:00:00Z", trust: 80 } };
const webApp = await startHttpBackend((req) => {
  const [, kind, user] = req.url.split("/").map(decodeURIComponent);
  if (kind === "accounts") return accounts[user] ? { body: accounts[user] } : { status: 404 };
  return { body: contacts[user] ?? {} };
});
running.push({ name: "the web app", stop: () => webApp.close() });
say(`web app with the contact lists and account records: ${webApp.url}/contacts/{username}, ${webApp.url}/accounts/{username}`);
const httpPort = await freePort();
const token = "demo-token-change-me-0123456789";

const demoDir = resolve(here, "../../../.demo");
// A fresh store each run (the last run's audit log stays readable until the next): report-forward would take
// the same report filed again within its dedupe window as a duplicate.
rmSync(join(demoDir, "data"), { recursive: true, force: true });
mkdirSync(demoDir, { recursive: true });
const configPath = join(demoDir, "gateway.yaml");
writeFileSync(
  configPath,
  `# Written by the demo. The secret comes from the environment, as it should in production.
component:
  service: ${prosody.component.service}
  domain: ${prosody.component.domain}
  secret: \${GATEWAY_SECRET}
server_domain: ${prosody.domain}
http:
  listen: 127.0.0.1:${httpPort}
  token: \${GATEWAY_HTTP_TOKEN}
storage:
  data_dir: ${join(demoDir, "data")}
log:
  level: info
  format: ${once ? "json" : "pretty"}
modules_enabled: [http-roster-admin, track-muc-joins, ping-muc, report-forward, report-affiliations, audit-geoip]
http-roster-admin:
  http_roster_url: ${webApp.url}/contacts/%s
track-muc-joins:
  rooms:
    - room: mods@${prosody.muc}
      nick: abuse-desk
ping-muc:
  ping_muc_delay: 10
report-forward:
  report_forward_to_staff: [mods@${prosody.muc}]
report-affiliations:
  report_affiliations_trusted_servers: [${RTBL}]
  report_affiliations_url: ${webApp.url}/accounts/%s
`,
);
say(`gateway config: ${configPath}`);

const gateway = spawn(process.execPath, [resolve(here, "../dist/cli.js"), "--config", configPath], {
  env: { ...process.env, GATEWAY_SECRET: prosody.component.secret, GATEWAY_HTTP_TOKEN: token },
  stdio: ["ignore", "pipe", "inherit"],
  // Its own process group: Ctrl-C reaches only this script, which then stops the gateway with one SIGTERM.
  detached: true,
});
const gatewayExit = new Promise((r) =>
  gateway.on("exit", (code) => {
    gatewayCode = code;
    r(code);
  }),
);
running.push({
  name: "the gateway",
  stop: async () => {
    if (gateway.exitCode === null && gateway.signalCode === null) gateway.kill("SIGTERM");
    await gatewayExit;
  },
});
// An exit this script did not plan (an uncaught error): the gateway goes too (Prosody has the harness's own hook).
process.on("exit", () => {
  if (gateway.exitCode === null && gateway.signalCode === null) gateway.kill("SIGKILL");
});
say(`gateway started (pid ${gateway.pid})`);
let output = "";
gateway.stdout.on("data", (d) => {
  output += d;
  process.stdout.write(d);
});

/** Wait until the gateway's log says `what`; stop everything if it exits or takes more than 20 s. */
async function gatewaySays(what, label) {
  const deadline = Date.now() + 20_000;
  while (!what.test(output)) {
    if (gateway.exitCode !== null || Date.now() > deadline) {
      say(`the gateway did not say that ${label}`);
      await shutdown(1);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Wait for the gateway to connect, then check it the way a user's client would.
await gatewaySays(/connected to the server/, "it connected");
try {
  const alice = await loginClient(prosody, "alice", { resource: "demo" });
  const info = await alice.request(xml("iq", { type: "get", to: prosody.component.domain }, xml("query", "http://jabber.org/protocol/disco#info")));
  const q = info.getChild("query");
  const identity = q.getChild("identity")?.attrs;
  const features = q.getChildren("feature").map((f) => f.attrs.var);
  say(`alice's disco#info of ${prosody.component.domain}: ${identity?.category}/${identity?.type} "${identity?.name}", features ${features.join(", ")}`);
  const t0 = performance.now();
  await alice.request(xml("iq", { type: "get", to: prosody.component.domain }, xml("ping", "urn:xmpp:ping")));
  say(`alice pinged the gateway: ${Math.round(performance.now() - t0)} ms`);

  // The web app gives alice a contact and tells the gateway, as it would after a change.
  await alice.fetchRoster(); // the server pushes roster changes to resources that fetched the roster
  contacts.alice = { "bob@localhost": { name: "Bob", groups: ["Demo"] } };
  const refreshUrl = `http://127.0.0.1:${httpPort}/roster_admin/refresh`;
  say(`the web app calls POST ${refreshUrl} ["alice"]`);
  const res = await fetch(refreshUrl, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: '["alice"]' });
  say(`gateway answered ${res.status} ${await res.text()}`);
  for (let i = 0; i < 50 && alice.rosterPushes.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  const item = alice.rosterPushes.at(-1)?.getChild("query")?.getChild("item");
  if (!item) throw new Error("alice got no roster push");
  say(
    `alice's client got a roster push: ${item.attrs.jid} "${item.attrs.name}" subscription=${item.attrs.subscription} groups=${item
      .getChildren("group")
      .map((g) => g.getText())
      .join(",")}`,
  );

  // The gateway keeps a seat in the moderators' room (track-muc-joins' rooms: in the config); alice enters and sees it there.
  const room = `mods@${prosody.muc}`;
  await enterRoom(alice, room, "alice");
  // Its presence is among the occupants alice got, or arrives soon if alice was quicker than the gateway.
  const desk = await alice.next((el) => el.is("presence") && !el.attrs.type && el.attrs.from === `${room}/abuse-desk`, 10_000);
  const role = desk.getChild("x", "http://jabber.org/protocol/muc#user")?.getChild("item")?.attrs;
  say(`alice entered ${room}: the gateway is there as "abuse-desk" (${role?.affiliation}, ${role?.role}), kept joined by track-muc-joins and ping-muc`);

  // A web moderation tool files a report; report-forward posts it in the staff room, where alice reads it.
  const reportsUrl = `http://127.0.0.1:${httpPort}/reports`;
  const report = { jid: "spammer@elsewhere.example", reason: "spam", reporter: "bob@localhost", text: "sells pills" };
  const filed = await fetch(reportsUrl, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(report),
  });
  say(`a moderation tool calls POST ${reportsUrl}: ${filed.status} ${await filed.text()}`);
  const posted = await alice.next((el) => el.is("message") && el.attrs.type === "groupchat" && el.attrs.from === `${room}/abuse-desk`, 10_000);
  say(`alice read in ${room}: ${JSON.stringify(posted.getChildText("body").split("\n")[0])} (and the XEP-0377 payload)`);

  // report-affiliations: Prosody routes XEP-0489 queries about its users to the gateway, which answers the
  // servers it trusts (the config's report_affiliations_trusted_servers) from the web app's record, and no one else.
  await gatewaySays(/XEP-0355 namespaces delegated/, `Prosody delegated ${NS_RAA}`);
  const rtblLink = prosody.components.find((c) => c.domain === RTBL);
  const rtbl = component({ service: rtblLink.service, domain: RTBL, password: rtblLink.secret });
  rtbl.on("error", () => undefined);
  running.push({ name: RTBL, stop: () => closeClient(rtbl) });
  await rtbl.start();
  const raa = await rtbl.iqCaller.request(xml("iq", { type: "get", from: RTBL, to: `alice@${prosody.domain}` }, xml("query", NS_RAA)), 10_000);
  const vouched = raa.getChild("info", NS_RAA)?.attrs ?? {};
  const told = ["affiliation", "since", "trust"].filter((k) => k in vouched).map((k) => `${k}="${vouched[k]}"`);
  say(`${RTBL}, a block-list service the gateway trusts, asked about alice@${prosody.domain} (XEP-0489): <info ${told.join(" ")}/> (the web app's record)`);
  const refused = await alice.request(xml("iq", { type: "get", to: `bob@${prosody.domain}` }, xml("query", NS_RAA))).then(
    () => "an answer",
    (err) => err.condition ?? err.message,
  );
  say(`alice, who is not trusted, asked the same about bob@${prosody.domain}: ${refused}`);

  // audit-geoip recorded all of it: the start, the link, alice's session, every HTTP call, the sync, the report, the query.
  await new Promise((r) => setTimeout(r, 500)); // events are written in batches, within 200 ms
  const audit = await fetch(`http://127.0.0.1:${httpPort}/audit?since=1h&limit=1000`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json());
  const types = [...new Set(audit.events.map((e) => e.type))].sort();
  say(
    `the audit log has ${audit.events.length} events (${types.join(", ")}); read them at http://127.0.0.1:${httpPort}/audit/ or with: xmppkit-gateway audit --config ${configPath}`,
  );
  await alice.stop();
} catch (err) {
  say(`check failed: ${err.message}`);
  await shutdown(1);
}
if (once) await shutdown(0);
else say("running. Ctrl-C stops the gateway and Prosody.");
