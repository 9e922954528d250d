// report-forward on what Prosody's mod_report_forward really sends (the exact bytes recorded from the
// newest module on Prosody 0.12.3, in @xmppkit/testing's fixtures): most reports name no reporter.
import { NS_DATA, NS_DISCO_INFO, NS_PING, parseXml, setupKit, xml, type Element, type XmppEntity } from "@xmppkit/core";
import { mockComponent, modReportForward as real, waitForProgress, type MockEntity } from "@xmppkit/testing";
import { afterEach, describe, expect, it } from "vitest";
import { SERVERINFO_FORM_TYPE } from "./contact-addresses.js";
import { setupReportForward, type ReportForward, type ReportForwardEvents, type ReportForwardOptions } from "./report-forward.js";

const GW = "gateway.localhost";
const STAFF = "mod@localhost";
const LIST = "rtbl@blocklist.example";
const ORIGIN_ABUSE = "abuse@spamhost.test";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Desk {
  mock: MockEntity<XmppEntity>;
  desk: ReportForward;
  forwarded: ReportForwardEvents["forwarded"][];
  rejected: ReportForwardEvents["rejected"][];
}
let current: Desk | undefined;
afterEach(async () => {
  await current?.desk.stop();
  current = undefined;
});

async function desk(options: ReportForwardOptions = {}): Promise<Desk> {
  const mock = await mockComponent<XmppEntity>({ domain: GW });
  const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
  mock.replyToIq((s) => s.getChild("ping", NS_PING) !== undefined, true);
  mock.replyToIq(
    (s) => s.attrs.to === "localhost" && s.getChild("query", NS_DISCO_INFO) !== undefined,
    xml("query", NS_DISCO_INFO, xml("identity", { category: "server", type: "im" })),
  );
  mock.replyToIq(
    (s) => s.attrs.to === "spamhost.test" && s.getChild("query", NS_DISCO_INFO) !== undefined,
    xml(
      "query",
      NS_DISCO_INFO,
      xml(
        "x",
        { xmlns: NS_DATA, type: "result" },
        xml("field", { var: "FORM_TYPE" }, xml("value", {}, SERVERINFO_FORM_TYPE)),
        xml("field", { var: "abuse-addresses" }, xml("value", {}, `xmpp:${ORIGIN_ABUSE}`)),
      ),
    ),
  );
  const d = setupReportForward(kit, { staff: [STAFF], thirdParties: [LIST], ...options });
  const out: Desk = { mock, desk: d, forwarded: [], rejected: [] };
  d.on("forwarded", (f) => out.forwarded.push(f));
  d.on("rejected", (r) => out.rejected.push(r));
  mock.entity.emit("online", mock.entity.jid);
  current = out;
  return out;
}

async function settled(d: Desk, n: number) {
  await waitForProgress(() => d.forwarded.length, n, `${n} reports forwarded`, 30_000, 5);
  await sleep(20); // a short quiet period: nothing more is forwarded
}

const sentTo = (d: Desk, to: string): Element[] => d.mock.sent.filter((s) => s.name === "message" && s.attrs.to === to && s.attrs.type !== "error");
/** Every JID of the served domain in a stanza's bytes. */
const localJids = (el: Element) => [...el.toString().matchAll(/[\w.+-]+@localhost\b/g)].map((m) => m[0]);

const FIXTURES = {
  "with an archived message (<forwarded>, to = the reporter)": real.WITH_ARCHIVED_MESSAGE,
  "without a message": real.WITHOUT_MESSAGE,
  "with <stanza-id by> = the reporter (XEP-0359's reading)": real.BY_REPORTER,
  "legacy urn:xmpp:reporting:0": real.LEGACY,
};

describe("report-forward on mod_report_forward's real output", () => {
  it.each(Object.entries(FIXTURES))("%s: no copy for a third party or the origin names an account of the served domain", async (_, bytes) => {
    const d = await desk({ requireOptIn: false }); // every report to the third party and the origin
    await d.mock.receive(parseXml(bytes));
    await settled(d, 1);
    const outside = [...sentTo(d, LIST), ...sentTo(d, ORIGIN_ABUSE)];
    expect(outside.length).toBeGreaterThanOrEqual(1);
    for (const m of outside) expect(localJids(m)).toEqual([]);
  });

  it("defect 1: a stanza-id by the reporter never reaches the third party; staff learn it was alice", async () => {
    const d = await desk();
    await d.mock.receive(parseXml(real.BY_REPORTER));
    await settled(d, 1);
    const [toList] = sentTo(d, LIST);
    expect(toList!.toString()).not.toContain("alice@localhost");
    expect(toList!.getChild("report", "urn:xmpp:reporting:1")!.getChild("stanza-id")).toBeUndefined();
    const [toStaff] = sentTo(d, STAFF);
    expect(toStaff!.getChildText("body")).toContain("Reported by: alice@localhost");
    expect(d.forwarded[0]!.reporter).toBe("alice@localhost");
  });

  it("defect 2: two users' reports of one JID with the same text (two messages) are both forwarded; one message twice is one report", async () => {
    const d = await desk();
    await d.mock.receive(parseXml(real.withoutMessage({ id: "alice-1", reported: "x1@spamhost.test", text: "spam" })));
    await d.mock.receive(parseXml(real.withoutMessage({ id: "carol-1", reported: "x1@spamhost.test", text: "spam" })));
    await settled(d, 2);
    expect(d.rejected).toEqual([]);
    expect(sentTo(d, STAFF)).toHaveLength(2);
    await d.mock.receive(parseXml(real.withoutMessage({ id: "carol-1", reported: "x1@spamhost.test", text: "spam" })));
    expect(d.rejected.map((r) => r.reason)).toEqual(["duplicate"]);
  });

  it("defect 3: the per-reporter limit works when the server names the reporter (stanza-id by alice); staff get all", async () => {
    const d = await desk({ reporterLimit: 20, digest: { after: 0 } });
    for (let i = 0; i < 25; i++) {
      await d.mock.receive(parseXml(real.byReporter({ id: `m${i}`, reporter: "alice@localhost", reported: `s${i}@spamhost.test`, sid: `sid-${i}` })));
    }
    await settled(d, 25);
    expect(d.rejected).toEqual([]);
    expect(sentTo(d, STAFF)).toHaveLength(25);
    expect(sentTo(d, LIST)).toHaveLength(20);
    const held = d.forwarded.flatMap((f) => f.destinations.filter((x) => x.withheld));
    expect(held.map((h) => [h.jid, h.error])).toEqual(
      Array(5).fill([LIST, "held back: 20 reports from alice@localhost in 1 h (report_forward_reporter_limit)"]),
    );
  });

  it("defect 3: when nobody is named, no server-wide budget: every report reaches staff, reports about one JID share a small allowance", async () => {
    const d = await desk({ digest: { after: 0 }, requireOptIn: false, toOrigin: false }); // the module's reports carry no opt-ins
    for (let i = 0; i < 25; i++) await d.mock.receive(parseXml(real.withoutMessage({ id: `n${i}`, reported: `t${i}@spamhost.test`, text: "spam" })));
    for (let i = 0; i < 5; i++) await d.mock.receive(parseXml(real.withoutMessage({ id: `same${i}`, reported: "one@spamhost.test", text: "spam" })));
    await settled(d, 30);
    expect(d.rejected).toEqual([]);
    expect(sentTo(d, STAFF)).toHaveLength(30);
    expect(sentTo(d, LIST)).toHaveLength(28); // 25 JIDs, and 3 (report_forward_unattributed_limit) of the 5 about one
  });

  it.each([
    ["with an archived message", real.WITH_ARCHIVED_MESSAGE, "alice@localhost"],
    ["with <stanza-id by> = the reporter", real.BY_REPORTER, "alice@localhost"],
    ["without a message", real.WITHOUT_MESSAGE, "a user of localhost; the server did not name them"],
    ["legacy urn:xmpp:reporting:0", real.LEGACY, "a user of localhost; the server did not name them"],
  ])("defect 4: staff are told who reported, honestly: %s", async (_, bytes, who) => {
    const d = await desk();
    await d.mock.receive(parseXml(bytes));
    await settled(d, 1);
    expect(sentTo(d, STAFF)[0]!.getChildText("body")).toContain(`Reported by: ${who}`);
  });
});
