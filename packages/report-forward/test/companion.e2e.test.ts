// End-to-end: the package's Prosody module mod_xmppkit_report_forward, loaded from the package's prosody/
// folder as an operator would (plugin_paths + modules_enabled), beside mod_spam_reporting (XEP-0377). dave
// files reports the standard way (a XEP-0191 block with a report); a raw XEP-0114 component stands in for the
// gateway, records the handover IQs the module sends it and answers them as each test wants. On Prosody 13
// mod_report_forward runs beside it (it does not load on 0.12, where mod_spam_reporting, which 0.12's
// prosody-modules lack, is copied from the backports root). report_forward_to also lists carol (a user), the
// MUC service and a remote domain: none of them may learn who reported.
// https://xmpp.org/extensions/xep-0377.html · https://xmpp.org/extensions/xep-0114.html
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { component } from "@xmpp/component";
import { NS_DISCO_INFO, setupKit, xml, type Element, type XmppEntity } from "@xmppkit/core";
import {
  closeClient,
  DEFAULT_BACKPORTS_ROOT,
  installation,
  loginClient,
  startProsody,
  suiteServers,
  waitFor,
  type Prosody,
  type TestClient,
} from "@xmppkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileReport, type ReportSpec } from "../src/index.js";

const NS_HANDOVER = "urn:xmppkit:report-forward:0";
const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
const PLUGINS = join(dirname(createRequire(import.meta.url).resolve("@xmppkit/report-forward/package.json")), "prosody");
const SPAM_REPORTING = "/usr/lib/prosody/modules/mod_spam_reporting";

interface RawComponent {
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  on(event: string, fn: (...a: never[]) => void): void;
  iqCallee: { set(ns: string, name: string, fn: (ctx: { stanza: Element; element: Element }) => unknown): void };
}

/** What the gateway answers to one handover: a result, or an <error/>. */
type Answer = (handover: Element, seen: number) => true | Element;

const stanzaError = (type: string, condition: string) => xml("error", { type }, xml(condition, NS_STANZAS));
/** The reported JID of a handover (the <jid/> the module appended to the report). */
const reportedJid = (h: Element) => h.getChild("report")?.getChild("jid", "urn:xmpp:jid:0")?.getText();

describe.each(suiteServers(["prosody"]))("$id", ({ id, root }) => {
  // mod_report_forward (Prosody 13's prosody-modules) does not load on 0.12.
  const withReportForward = id !== "prosody-0.12";

  describe("mod_xmppkit_report_forward hands reports to the gateway with the reporter", () => {
    let prosody: Prosody;
    let gateway: RawComponent | undefined;
    let dave: TestClient;
    let carol: TestClient;
    let alice: TestClient;
    let spamDir: string | undefined;
    /** Every handover IQ the gateway got, in order, over all its connections. */
    const handovers: Element[] = [];
    const answers = new Map<string, Answer>();

    let daveKit: ReturnType<typeof setupKit>;
    const report = (...specs: ReportSpec[]) => fileReport(daveKit, ...specs);
    const handoversOf = (jid: string) => handovers.filter((iq) => reportedJid(iq.getChild("handover", NS_HANDOVER)!) === jid);
    const order = () => handovers.map((iq) => reportedJid(iq.getChild("handover", NS_HANDOVER)!));
    const logCount = (needle: string) => prosody.logTail(1_000_000).split(needle).length - 1;

    async function connectGateway(): Promise<void> {
      const c = prosody.component;
      const entity = component({ service: c.service, domain: c.domain, password: c.secret }) as unknown as RawComponent;
      entity.on("error", () => undefined);
      entity.iqCallee.set(NS_HANDOVER, "handover", ({ stanza, element }) => {
        handovers.push(stanza);
        const jid = reportedJid(element) ?? "";
        const answer = answers.get(jid);
        return answer ? answer(element, handoversOf(jid).length) : true;
      });
      await entity.start();
      gateway = entity;
    }

    async function disconnectGateway(): Promise<void> {
      const before = logCount("component disconnected");
      await closeClient(gateway as unknown as { stop(): Promise<unknown> });
      gateway = undefined;
      await waitFor(() => logCount("component disconnected") > before, "Prosody to see the component go");
    }

    beforeAll(async () => {
      const pluginPaths = [PLUGINS];
      if (!installation(root).has(join(SPAM_REPORTING, "mod_spam_reporting.lua"))) {
        // Prosody 0.12's prosody-modules have no mod_spam_reporting: only that module's folder from the
        // backports root (never its whole module directory: it holds Prosody 13's core modules).
        spamDir = mkdtempSync(join(tmpdir(), "xmppkit-spam-reporting-"));
        cpSync(installation(process.env.XMPPKIT_BACKPORTS_ROOT ?? DEFAULT_BACKPORTS_ROOT).hostPath(SPAM_REPORTING), join(spamDir, "mod_spam_reporting"), {
          recursive: true,
        });
        pluginPaths.push(spamDir);
      }
      prosody = await startProsody({
        root,
        users: { dave: "davepw", carol: "carolpw", alice: "alicepw" },
        component: { privileges: false },
        pluginPaths,
        modules: ["blocklist", "mam", "spam_reporting", ...(withReportForward ? ["report_forward"] : []), "xmppkit_report_forward"],
        hostConfig: `\treport_forward_to = { "gateway.localhost"; "carol@localhost/desk"; "conference.localhost"; "abuse.remote.example" }
\treport_forward_to_origin = false
`,
      });
      await connectGateway();
      dave = await loginClient(prosody, "dave", { resource: "phone" });
      daveKit = setupKit(dave.xmpp as unknown as XmppEntity, { ping: { interval: 0 } });
      carol = await loginClient(prosody, "carol", { resource: "desk" });
      alice = await loginClient(prosody, "alice");
    });

    afterAll(async () => {
      await closeClient(gateway as unknown as { stop(): Promise<unknown> });
      await dave?.stop();
      await carol?.stop();
      await alice?.stop();
      await prosody?.stop();
      if (spamDir) rmSync(spamDir, { recursive: true, force: true });
    });

    it("loads beside mod_spam_reporting (and mod_report_forward on 13)", () => {
      const log = prosody.logTail(1_000_000);
      expect(log).not.toMatch(/Error initializing module|Unable to load module|mod_xmppkit_report_forward belongs on a VirtualHost, not on localhost/);
      // (that it is loaded shows in the tests below: the handovers, and disco#info)
    });

    it("one report: one handover from the server naming dave, his resource and session, and the report with <jid/> last", async () => {
      await report({
        jid: "spammer@bad.example",
        reason: "spam",
        text: "cheap pills",
        lang: "en",
        stanzaIds: [{ by: "spammer@bad.example", id: "abc" }],
        reportOrigin: true,
        thirdParty: true,
      });
      const [iq] = await waitFor(() => (handoversOf("spammer@bad.example").length ? handoversOf("spammer@bad.example") : undefined), "the handover");
      expect(iq!.attrs).toMatchObject({ type: "set", from: "localhost", to: prosody.component.domain });
      const handover = iq!.getChild("handover", NS_HANDOVER)!;
      expect(handover.attrs).toEqual({ xmlns: NS_HANDOVER, reporter: "dave@localhost", resource: "phone", session: expect.any(String), type: "spam" });
      expect(handover.attrs.session).not.toBe("");
      const r = handover.getChild("report", "urn:xmpp:reporting:1")!;
      expect(r.attrs.reason).toBe("urn:xmpp:reporting:spam");
      expect(r.getChildElements().map((c) => c.name)).toEqual(["text", "stanza-id", "report-origin", "third-party", "jid"]);
      expect(r.getChildText("text")).toBe("cheap pills");
      expect(r.getChild("stanza-id", "urn:xmpp:sid:0")!.attrs).toMatchObject({ by: "spammer@bad.example", id: "abc" });
      expect(r.getChild("jid", "urn:xmpp:jid:0")!.getText()).toBe("spammer@bad.example");
      expect(handover.getChild("forwarded")).toBeUndefined(); // "abc" is in nobody's archive

      // Answered with a result: a later report comes, and the first was not sent again before it.
      await report({ jid: "second@bad.example", reason: "abuse" });
      await waitFor(() => handoversOf("second@bad.example").length, "the second handover");
      expect(handoversOf("spammer@bad.example")).toHaveLength(1);
      expect(handoversOf("second@bad.example")[0]!.getChild("handover", NS_HANDOVER)!.attrs.type).toBe("abuse");
    });

    it("one block of 5 reported items: 5 handovers, in the block's order, with their types", async () => {
      const jids = ["m1@bad.example", "m2@bad.example", "m3@bad.example", "m4@bad.example", "m5@bad.example"];
      const reasons = ["spam", "abuse", "urn:example:other", "spam", "abuse"];
      await report(...jids.map((jid, i) => ({ jid, reason: reasons[i]! })));
      await waitFor(() => jids.every((j) => handoversOf(j).length), "5 handovers");
      expect(order().filter((j) => jids.includes(j!))).toEqual(jids);
      expect(jids.map((j) => handoversOf(j)[0]!.getChild("handover", NS_HANDOVER)!.attrs.type)).toEqual(["spam", "abuse", "unknown", "spam", "abuse"]);
    });

    it("the gateway is down: dave's blocks still succeed, and the 3 reports arrive in order once it is back", async () => {
      await disconnectGateway();
      const kept = logCount("did not take a report");
      const jids = ["down1@bad.example", "down2@bad.example", "down3@bad.example"];
      for (const jid of jids) await report({ jid, reason: "spam", text: jid });
      // The first one went and came back as not-connected; the others wait behind it.
      await waitFor(() => logCount("did not take a report") > kept, "the module to keep a report");
      expect(prosody.logTail(1_000_000)).toContain("remote-server-timeout");
      expect(jids.flatMap(handoversOf)).toHaveLength(0);
      await connectGateway();
      await waitFor(() => jids.every((j) => handoversOf(j).length), "the queued handovers");
      expect(order().filter((j) => jids.includes(j!))).toEqual(jids);
      // at once when it authenticated, not on the next retry of the timer
      expect(prosody.logTail(1_000_000)).toContain("gateway.localhost is connected: sending its 3 queued report(s)");
      for (const j of jids) expect(handoversOf(j)[0]!.getChild("handover", NS_HANDOVER)!.getChild("report")!.getChildText("text")).toBe(j);
    });

    it("a wait error is retried; bad-request drops the report", async () => {
      answers.set("flaky@bad.example", (_h, seen) => (seen === 1 ? stanzaError("wait", "internal-server-error") : true));
      answers.set("refused@bad.example", () => stanzaError("modify", "bad-request"));
      const jids = ["flaky@bad.example", "refused@bad.example", "after@bad.example"];
      for (const jid of jids) await report({ jid, reason: "spam" });
      await waitFor(() => handoversOf("after@bad.example").length, "the report after the refused one");
      expect(order().filter((j) => jids.includes(j!))).toEqual(["flaky@bad.example", "flaky@bad.example", "refused@bad.example", "after@bad.example"]);
      expect(prosody.logTail(1_000_000)).toMatch(/refused a report \(modify bad-request\): dropped/);
    });

    it("a user in report_forward_to gets nothing from this module (nothing that names dave)", async () => {
      await report({ jid: "leak@bad.example", reason: "spam", text: "to carol?" });
      await waitFor(() => handoversOf("leak@bad.example").length, "the gateway's handover");
      // mod_report_forward (13) sends carol its copy of the report, which does not say who filed it.
      if (withReportForward) {
        const copy = await carol.next((el) => el.is("message") && String(el).includes("leak@bad.example"), 10_000);
        expect(copy.attrs.from).toBe("localhost");
        expect(String(copy)).not.toMatch(/dave|urn:xmppkit:report-forward/);
      }
      // Whatever went to carol for this report was sent before the gateway got its handover (the module sends to
      // every destination in the same pass): a message alice sends now comes after it.
      await alice.xmpp.send(xml("message", { to: "carol@localhost/desk", type: "chat" }, xml("body", {}, "marker")));
      await carol.next((el) => el.is("message") && el.getChildText("body") === "marker", 10_000);
      // Everything carol got since she logged in, all the reports of the tests above included (mod_report_forward's
      // copies of them on 13: none names dave either).
      // (Not counted: presences, answers to carol's own IQs, and mod_privilege's announcement on her login.)
      const seen = carol.received.filter(
        (el) => (el.is("iq") && (el.attrs.type === "get" || el.attrs.type === "set")) || (el.is("message") && !el.getChild("privilege")),
      );
      expect(seen.filter((el) => el.is("iq"))).toEqual([]);
      expect(seen.map(String).join("\n")).not.toMatch(/dave|urn:xmppkit:report-forward/);
      if (!withReportForward) expect(seen).toEqual([]);
    });

    it("urn:xmppkit:report-forward:0 is on the VirtualHost's disco#info", async () => {
      const info = await dave.request(xml("iq", { type: "get", to: "localhost" }, xml("query", NS_DISCO_INFO)));
      const features = info
        .getChild("query", NS_DISCO_INFO)!
        .getChildren("feature")
        .map((f) => f.attrs.var);
      expect(features).toContain(NS_HANDOVER);
      expect(features).toContain("urn:xmpp:reporting:1");
    });

    it("a report of a message in dave's archive carries a <forwarded/> copy of it", async () => {
      await alice.xmpp.send(xml("message", { to: "dave@localhost", type: "chat", id: "m-1" }, xml("body", {}, "buy now")));
      const got = await dave.next((el) => el.is("message") && el.getChildText("body") === "buy now", 10_000);
      const sid = got.getChild("stanza-id", "urn:xmpp:sid:0")!;
      expect(sid.attrs.by).toBe("dave@localhost");
      await report({ jid: "alice@localhost", reason: "abuse", stanzaIds: [{ by: "dave@localhost", id: sid.attrs.id as string }] });
      const [iq] = await waitFor(() => (handoversOf("alice@localhost").length ? handoversOf("alice@localhost") : undefined), "the handover");
      const forwarded = iq!.getChild("handover", NS_HANDOVER)!.getChild("forwarded", "urn:xmpp:forward:0")!;
      expect(forwarded).toBeDefined();
      expect(forwarded.getChild("delay", "urn:xmpp:delay")!.attrs.stamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      const message = forwarded.getChild("message")!;
      expect(message.attrs).toMatchObject({ xmlns: "jabber:client", from: expect.stringMatching(/^alice@localhost/) });
      expect(message.getChildText("body")).toBe("buy now");
    });
  });
});
