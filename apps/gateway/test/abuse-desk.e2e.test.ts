// End-to-end: the abuse desk under a flood, fed by the ORIGINAL Prosody modules. Prosody 13 (Debian's
// bookworm-backports, with its prosody-modules) runs mod_spam_reporting and mod_report_forward with
// `report_forward_to = { "gateway.localhost" }`; real clients send XEP-0191 blocks carrying XEP-0377 reports
// (https://xmpp.org/extensions/xep-0377.html). Once with those modules alone (the server does not name
// reporters), once with every companion module of the project loaded beside them on the VirtualHost, as the
// READMEs document (mod_xmppkit_report_forward names the reporter). dave floods, alice reports once; mod is
// staff, carol the third party (report_forward_to).
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { setupKit, type Element, type EventRecord, type XmppEntity } from "@xmppkit/core";
import { NS_JID, NS_REPORTING, fileReport, type ReportSpec } from "@xmppkit/report-forward";
import { gatewayModule as reportForward } from "@xmppkit/report-forward/gateway";
import { loginClient, startProsody, suiteServers, type Prosody, type TestClient } from "@xmppkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GatewayConfig, SourceMap } from "../src/config.js";
import { startGateway, type Gateway } from "../src/gateway.js";
import { captureLogger, testConfig, waitFor } from "./helpers.js";

const PROSODY_13 = suiteServers(["prosody"]).find((s) => s.id === "prosody-13")!;
const companions = ["report-forward", "http-roster-admin", "report-affiliations"].map((pkg) =>
  join(dirname(createRequire(import.meta.url).resolve(`@xmppkit/${pkg}/package.json`)), "prosody"),
);
const COMPANION_MODULES = ["xmppkit_report_forward", "xmppkit_roster_batch", "xmppkit_account_info"];

const reportsIn = (el: Element) => (el.is("message") ? el.getChildren("report", NS_REPORTING) : []);
const reportedIn = (el: Element) => reportsIn(el).map((r) => r.getChildText("jid", NS_JID) ?? "");
const spec = (jid: string): ReportSpec => ({ jid, reason: "spam", text: "unsolicited pills", thirdParty: true });
type Forwarded = { reported: string; via: string; destinations: { jid: string; audience: string; withheld?: boolean; error?: string }[] };

describe.each([
  { name: "the original modules alone", companion: false },
  { name: "the original modules and the companion modules", companion: true },
])("the abuse desk under a flood, Prosody 13 with $name", ({ companion }) => {
  let prosody: Prosody;
  let gateway: Gateway;
  let config: { config: GatewayConfig; sourceMap: SourceMap };
  let dave: TestClient, alice: TestClient, mod: TestClient, carol: TestClient;
  const events: EventRecord[] = [];
  const log = captureLogger();
  const staffGot = () => mod.received.flatMap(reportedIn);
  const carolGot = () => carol.received.flatMap(reportedIn);
  const desk = () => gateway.module(reportForward)!;
  const forwarded = () => events.filter((e) => e.type === "report-forwarded").map((e) => e.payload as Forwarded);

  async function start() {
    gateway = await startGateway(config.config, { sourceMap: config.sourceMap, logger: log.logger });
    gateway.events.onAny((e) => events.push(e));
  }

  beforeAll(async () => {
    prosody = await startProsody({
      root: PROSODY_13.root,
      users: { dave: "davepw", alice: "alicepw", mod: "modpw", carol: "carolpw" },
      muc: false,
      ...(companion ? { pluginPaths: companions } : {}),
      hostConfig: `modules_enabled = { "spam_reporting"; "report_forward";${companion ? COMPANION_MODULES.map((m) => ` "${m}";`).join("") : ""} }
report_forward_to = { "${"gateway.localhost"}" }
report_forward_to_origin = false`,
    });
    [dave, alice, mod, carol] = await Promise.all([
      loginClient(prosody, "dave"),
      loginClient(prosody, "alice"),
      loginClient(prosody, "mod"),
      loginClient(prosody, "carol"),
    ]);
    config = testConfig(
      prosody,
      `modules_enabled: [report-forward]
report-forward:
  report_forward_to_staff: [mod@${prosody.domain}]
  report_forward_to: [carol@${prosody.domain}]
  report_forward_digest_delay: 2
`,
    );
    await start();
  });

  afterAll(async () => {
    await gateway?.stop();
    await Promise.all([dave, alice, mod, carol].map((c) => c?.stop()));
    await prosody?.stop();
  });

  const daveKit = () => setupKit(dave.xmpp as unknown as XmppEntity, { ping: { interval: 0 } });

  it("dave blocks 40 JIDs with reports back to back, then alice reports one: staff get all 41; carol what the limits allow", { timeout: 90_000 }, async () => {
    const kit = daveKit();
    await Promise.all(Array.from({ length: 40 }, (_, i) => fileReport(kit, spec(`flood${i}@spam.example`))));
    await fileReport(setupKit(alice.xmpp as unknown as XmppEntity, { ping: { interval: 0 } }), spec("alices-spammer@spam.example"));
    await waitFor(() => new Set(staffGot()).size === 41, "all 41 reports at the staff", 60_000);
    await waitFor(() => desk().pending === 0 && new Set(forwarded().map((f) => f.reported)).size === 41, "every report's delivery settled", 60_000);
    expect(staffGot()).toHaveLength(41); // each once
    const bodies = mod.received.filter((el) => reportsIn(el).length).map((el) => el.getChildText("body") ?? "");
    expect(bodies.length).toBeLessThan(41); // the burst came as digests
    const daves = carolGot().filter((j) => j.startsWith("flood"));
    expect(carolGot()).toContain("alices-spammer@spam.example"); // dave's flood did not use up alice's share
    expect(new Set(forwarded().map((f) => f.via))).toEqual(new Set([companion ? "handover" : "message"]));
    if (companion) {
      // The server named the reporter: staff see that dave sent 40, and carol got at most his share.
      expect(bodies.some((b) => /^Report digest: \d+ reports from dave@localhost \(40 in the last 10 min\)/.test(b))).toBe(true);
      expect(bodies.join("\n").match(/dave@localhost/g)!.length).toBeGreaterThanOrEqual(40);
      expect(daves).toHaveLength(10); // report_forward_reporter_limit's default
      const held = forwarded().flatMap((f) => f.destinations.filter((d) => d.withheld));
      expect(held).toHaveLength(30);
      expect(held[0]!.error).toBe("held back: 10 reports from dave@localhost in 1 h (report_forward_reporter_limit)");
    } else {
      // Nobody is named: the desk cannot tell dave's reports from 40 people's, and says so.
      expect(bodies.every((b) => b.includes("the server did not name"))).toBe(true);
      expect(daves).toHaveLength(40); // 40 JIDs, each within its own allowance
    }
    for (const el of carol.received.filter((m) => reportsIn(m).length)) expect(el.toString()).not.toMatch(/dave@|alice@/);
  });

  it("after a gateway restart the windows still count: dave's next 10 reports reach staff, not carol", { timeout: 90_000 }, async () => {
    await gateway.stop();
    const before = { staff: staffGot().length, carol: carolGot().length };
    if (companion) {
      // While the gateway is away the companion module keeps dave's reports and hands them over once it is back.
      const kit = daveKit();
      await Promise.all(Array.from({ length: 10 }, (_, i) => fileReport(kit, spec(`again${i}@spam.example`))));
      await start();
    } else {
      await start();
      const kit = daveKit();
      await Promise.all(Array.from({ length: 10 }, (_, i) => fileReport(kit, spec(`again${i}@spam.example`))));
    }
    await waitFor(() => staffGot().length === before.staff + 10, "dave's 10 new reports at the staff", 60_000);
    await waitFor(
      () =>
        desk().pending === 0 &&
        new Set(
          forwarded()
            .filter((f) => f.reported.startsWith("again"))
            .map((f) => f.reported),
        ).size === 10,
      "their delivery settled",
      60_000,
    );
    const again = carolGot()
      .slice(before.carol)
      .filter((j) => j.startsWith("again"));
    expect(again).toHaveLength(companion ? 0 : 10); // unnamed: each JID has its own allowance
  });
});
