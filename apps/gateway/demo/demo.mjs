// The quick-start demo: a local Prosody (started here), the gateway CLI beside it with http-roster-admin,
// track-muc-joins, ping-muc and report-forward, a tiny web app that owns alice's contact list, and alice, who
// checks that the gateway answers, gets her contacts pushed after a refresh, finds the gateway in its
// moderators' room, and sees a report filed over HTTP posted there. Ctrl-C stops everything. `--once` runs the
// checks and exits (tests).
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { xml } from "@xmppkit/core";
import { enterRoom, freePort, loginClient, startHttpBackend, startProsody } from "@xmppkit/testing";

const here = dirname(fileURLToPath(import.meta.url));
const once = process.argv.includes("--once");
const say = (msg) => process.stdout.write(`\x1b[1mdemo:\x1b[0m ${msg}\n`);

const prosody = await startProsody({ users: { alice: "alicepw", bob: "bobpw" } });
say(`Prosody ${prosody.domain} is up: c2s ${prosody.c2s.service}, component port ${prosody.component.service} (log: ${prosody.logFile})`);

// The "web application": GET /contacts/{username} → that user's contacts.
const contacts = { alice: {} };
const webApp = await startHttpBackend((req) => ({ body: contacts[decodeURIComponent(req.url.split("/").pop())] ?? {} }));
say(`web app with the contact lists: ${webApp.url}/contacts/{username}`);
const httpPort = await freePort();
const token = "demo-token-change-me-0123456789";

const demoDir = resolve(here, "../../../.demo");
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
modules_enabled: [http-roster-admin, track-muc-joins, ping-muc, report-forward, audit-geoip]
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
`,
);
say(`gateway config: ${configPath}`);

const gateway = spawn(process.execPath, [resolve(here, "../dist/cli.js"), "--config", configPath], {
  env: { ...process.env, GATEWAY_SECRET: prosody.component.secret, GATEWAY_HTTP_TOKEN: token },
  stdio: ["ignore", "pipe", "inherit"],
  // Its own process group: Ctrl-C reaches only this script, which then stops the gateway with one SIGTERM.
  detached: true,
});
process.on("exit", () => {
  if (gateway.exitCode === null) gateway.kill("SIGKILL");
});
let output = "";
gateway.stdout.on("data", (d) => {
  output += d;
  process.stdout.write(d);
});
const gatewayExit = new Promise((r) => gateway.on("exit", (code) => r(code)));

let stopping = false;
async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  if (gateway.exitCode === null) gateway.kill("SIGTERM");
  const gatewayCode = await gatewayExit;
  await prosody.stop();
  await webApp.close();
  say(`stopped (gateway exit code ${gatewayCode})`);
  process.exit(code ?? (gatewayCode === 0 ? 0 : 1));
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

// Wait for the gateway to connect, then check it the way a user's client would.
const deadline = Date.now() + 20_000;
while (!/connected to the server/.test(output)) {
  if (gateway.exitCode !== null || Date.now() > deadline) {
    say("the gateway did not connect");
    await shutdown(1);
  }
  await new Promise((r) => setTimeout(r, 100));
}
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

  // audit-geoip recorded all of it: the start, the link, alice's session, every HTTP call, the sync, the report.
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
