import {
  NS_DELAY,
  NS_DISCO_INFO,
  NS_FORWARD,
  NS_PING,
  NS_STANZAS,
  TypedEmitter,
  extend,
  setupKit,
  xml,
  type Element,
  type Kit,
  type XmppEntity,
} from "@xmppkit/core";
import { mockComponent, waitFor, waitForProgress, type MockEntity } from "@xmppkit/testing";
import { afterEach, describe, expect, it } from "vitest";
import { NS_DATA } from "@xmppkit/core";
import { SERVERINFO_FORM_TYPE } from "./contact-addresses.js";
import { NS_JID, NS_REPORTING, NS_SID, REASON_SPAM } from "./report.js";
import { setupReportForward, type ReportForward, type ReportForwardEvents, type ReportForwardOptions, type StaffRoomJoins } from "./report-forward.js";

const GW = "gateway.localhost";
const STAFF = "mod@localhost";
const LIST = "rtbl@blocklist.example";

/** A report the way the server's mod_report_forward hands it over. */
function serverReport(o: { from?: string; reported?: string; reporter?: string; optIns?: string[]; stanzaIdBy?: string; id?: string; jid?: boolean } = {}) {
  const reported = o.reported ?? "spammer@bad.example";
  return xml(
    "message",
    { from: o.from ?? "localhost", to: GW, id: "m1" },
    xml("body", {}, "SPAM/ABUSE REPORT"),
    xml(
      "report",
      { xmlns: NS_REPORTING, reason: REASON_SPAM },
      xml("text", { "xml:lang": "en" }, "buy pills"),
      xml("stanza-id", { xmlns: NS_SID, by: o.stanzaIdBy ?? reported, id: o.id ?? "sid-1" }),
      ...(o.optIns ?? []).map((n) => xml(n)),
      ...(o.jid === false ? [] : [xml("jid", NS_JID, reported)]),
    ),
    xml(
      "forwarded",
      NS_FORWARD,
      xml("delay", { xmlns: NS_DELAY, stamp: "2024-11-20T10:11:12Z" }),
      xml(
        "message",
        { xmlns: "jabber:client", from: `${reported}/bot`, to: `${o.reporter ?? "alice@localhost"}/phone`, type: "chat", id: "orig-1" },
        xml("body", {}, "cheap pills"),
        xml("stanza-id", { xmlns: NS_SID, by: o.reporter ?? "alice@localhost", id: "mam-9" }),
      ),
    ),
  );
}

const messagesTo = (mock: MockEntity<XmppEntity>, to: string) => mock.sent.filter((s) => s.name === "message" && s.attrs.to === to && s.attrs.type !== "error");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Setup {
  mock: MockEntity<XmppEntity>;
  kit: Kit;
  desk: ReportForward;
  events: { [K in keyof ReportForwardEvents]: ReportForwardEvents[K][] };
}
let current: Setup | undefined;
afterEach(() => current?.desk.stop());

async function setup(options: ReportForwardOptions = {}, joins?: StaffRoomJoins): Promise<Setup> {
  const mock = await mockComponent<XmppEntity>({ domain: GW });
  const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
  mock.replyToIq(
    (s) => s.attrs.to === "bad.example" && s.getChild("query", NS_DISCO_INFO) !== undefined,
    xml(
      "query",
      NS_DISCO_INFO,
      xml(
        "x",
        { xmlns: NS_DATA, type: "result" },
        xml("field", { var: "FORM_TYPE" }, xml("value", {}, SERVERINFO_FORM_TYPE)),
        xml("field", { var: "abuse-addresses" }, xml("value", {}, "xmpp:abuse@bad.example")),
      ),
    ),
  );
  mock.replyToIq(
    (s) => s.attrs.to === "localhost" && s.getChild("query", NS_DISCO_INFO) !== undefined,
    xml("query", NS_DISCO_INFO, xml("identity", { category: "server", type: "im" })),
  );
  mock.replyToIq(
    (s) => s.attrs.to === "conference.localhost" && s.getChild("query", NS_DISCO_INFO) !== undefined,
    xml("query", NS_DISCO_INFO, xml("identity", { category: "conference", type: "text" })),
  );
  mock.replyToIq((s) => s.getChild("ping", NS_PING) !== undefined, true); // the server's answer confirms a delivery
  // A MUC room reflects every groupchat message to its sender (XEP-0045 §7.4).
  mock.entity.on("send", (m: Element) => {
    if (m.name !== "message" || m.attrs.type !== "groupchat") return;
    setImmediate(
      () =>
        void mock.receive(
          xml("message", { type: "groupchat", id: m.attrs.id, from: `${m.attrs.to}/desk`, to: GW }, xml("body", {}, m.getChildText("body") ?? "")),
        ),
    );
  });
  const desk = setupReportForward({ ...kit, joins }, { staff: [STAFF], thirdParties: [LIST], ...options });
  const events = { received: [], forwarded: [], rejected: [] } as Setup["events"];
  desk.on("received", (e) => events.received.push(e));
  desk.on("forwarded", (e) => events.forwarded.push(e));
  desk.on("rejected", (e) => events.rejected.push(e));
  mock.entity.emit("online", mock.entity.jid);
  current = { mock, kit, desk, events };
  return current;
}

async function forwardedOnce(s: Setup, n = 1) {
  return waitFor(() => s.events.forwarded[n - 1], `report ${n} forwarded`, 30_000, 5);
}

describe("report-forward: intake from the server, and the XEP-0377 v0.4 opt-ins", () => {
  it("without opt-ins a report goes to the staff only, with the reporter's JID", async () => {
    const s = await setup();
    await s.mock.receive(serverReport());
    const done = await forwardedOnce(s);
    expect(done.destinations).toEqual([{ jid: STAFF, audience: "staff", room: false, ok: true }]);
    expect(s.events.received[0]).toMatchObject({
      via: "message",
      source: "localhost",
      reporter: "alice@localhost",
      reported: "spammer@bad.example",
      reason: "spam",
    });
    const [m] = messagesTo(s.mock, STAFF);
    expect(m!.attrs.from).toBe(GW);
    expect(m!.getChildText("body")).toContain("Reported by: alice@localhost");
    expect(m!.getChildText("body")).toContain("> cheap pills");
    const fwd = m!.getChild("forwarded", NS_FORWARD)!;
    expect(fwd.getChild("message")!.attrs.to).toBe("alice@localhost/phone"); // staff see everything
    expect(m!.getChild("report", NS_REPORTING)!.getChildText("jid", NS_JID)).toBe("spammer@bad.example");
    expect(messagesTo(s.mock, LIST)).toHaveLength(0);
    expect(messagesTo(s.mock, "abuse@bad.example")).toHaveLength(0);
  });

  it("<third-party/> and <report-origin/>: the list and the origin's XEP-0157 address get it, without the reporter", async () => {
    const s = await setup();
    await s.mock.receive(serverReport({ optIns: ["third-party", "report-origin"], stanzaIdBy: "alice@localhost" }));
    const done = await forwardedOnce(s);
    expect(done.destinations.map((d) => [d.audience, d.jid, d.ok])).toEqual([
      ["staff", STAFF, true],
      ["third-party", LIST, true],
      ["origin", "abuse@bad.example", true],
    ]);
    expect(done.destinations[2]!.address).toBe("published");
    for (const to of [LIST, "abuse@bad.example"]) {
      const [m] = messagesTo(s.mock, to);
      const text = m!.toString();
      expect(text).not.toContain("alice@localhost"); // not in the body, the forwarded `to`, nor a stanza-id by the reporter
      const fwd = m!.getChild("forwarded", NS_FORWARD)!;
      expect(fwd.getChild("delay", NS_DELAY)!.attrs.stamp).toBe("2024-11-20T10:11:12Z");
      expect(fwd.getChild("message")!.attrs).toMatchObject({ from: "spammer@bad.example/bot", xmlns: "jabber:client" });
      expect(m!.getChildText("body")).toContain("The reported message was sent at: 2024-11-20T10:11:12Z");
    }
  });

  it("only <report-origin/>: the origin, not the third party", async () => {
    const s = await setup();
    await s.mock.receive(serverReport({ optIns: ["report-origin"] }));
    const done = await forwardedOnce(s);
    expect(done.destinations.map((d) => d.audience)).toEqual(["staff", "origin"]);
  });

  it("report_forward_require_opt_in false is the seed: everyone gets every report", async () => {
    const s = await setup({ requireOptIn: false });
    await s.mock.receive(serverReport());
    expect((await forwardedOnce(s)).destinations.map((d) => d.audience)).toEqual(["staff", "third-party", "origin"]);
  });

  it("report_forward_to_origin false keeps reports from the origin even when opted in", async () => {
    const s = await setup({ toOrigin: false });
    await s.mock.receive(serverReport({ optIns: ["report-origin"] }));
    expect((await forwardedOnce(s)).destinations.map((d) => d.audience)).toEqual(["staff"]);
  });

  it("a report about this server's own user stays with the staff", async () => {
    const s = await setup();
    await s.mock.receive(serverReport({ reported: "mallory@localhost", optIns: ["report-origin"] }));
    expect((await forwardedOnce(s)).destinations.map((d) => d.audience)).toEqual(["staff"]);
  });

  it("no destination at all: an empty list, and the event says so", async () => {
    const s = await setup({ staff: [], thirdParties: [] });
    await s.mock.receive(serverReport());
    expect((await forwardedOnce(s)).destinations).toEqual([]);
  });
});

describe("report-forward: what is refused", () => {
  it("a report from an unlisted source gets forbidden and goes nowhere", async () => {
    const s = await setup();
    await s.mock.receive(serverReport({ from: "mallory@localhost/x" }));
    const err = s.mock.sent.find((m) => m.name === "message" && m.attrs.type === "error")!;
    expect(err.attrs).toMatchObject({ to: "mallory@localhost/x", from: GW, id: "m1" });
    expect(err.getChild("error")!.attrs.type).toBe("auth");
    expect(err.getChild("error")!.getChild("forbidden", NS_STANZAS)).toBeDefined();
    expect(s.events.rejected[0]).toMatchObject({ via: "message", reason: "unlisted-source", source: "mallory@localhost/x" });
    expect(s.events.received).toHaveLength(0);
    expect(messagesTo(s.mock, STAFF)).toHaveLength(0);
  });

  it("report_forward_sources lists who may hand reports over", async () => {
    const s = await setup({ sources: ["other.example"] });
    await s.mock.receive(serverReport({ from: "localhost" }));
    await s.mock.receive(serverReport({ from: "other.example" }));
    expect(s.events.rejected.map((r) => r.source)).toEqual(["localhost"]);
    expect(s.events.received.map((r) => r.source)).toEqual(["other.example"]);
  });

  it("a malformed report gets bad-request with the reason", async () => {
    const s = await setup();
    await s.mock.receive(serverReport({ jid: false }));
    const err = s.mock.sent.find((m) => m.name === "message" && m.attrs.type === "error")!;
    expect(err.getChild("error")!.getChild("bad-request", NS_STANZAS)).toBeDefined();
    expect(err.getChild("error")!.getChildText("text", NS_STANZAS)).toMatch(/no reported JID/);
    expect(s.events.rejected[0]).toMatchObject({ reason: "malformed" });
  });

  it("never answers an error with an error, and leaves groupchat and plain messages to others", async () => {
    const s = await setup();
    await s.mock.receive(xml("message", { from: "mallory@localhost", to: GW, type: "error" }, xml("report", { xmlns: NS_REPORTING })));
    await s.mock.receive(xml("message", { from: "localhost", to: GW }, xml("body", {}, "hello")));
    expect(s.mock.sent.filter((m) => m.name === "message")).toHaveLength(0);
    expect(s.events.rejected).toHaveLength(0);
  });

  it("the same report twice inside the window is forwarded once", async () => {
    const s = await setup();
    await s.mock.receive(serverReport());
    await forwardedOnce(s);
    await s.mock.receive(serverReport());
    await s.mock.receive(serverReport({ id: "sid-2" })); // another message: a new report
    await forwardedOnce(s, 2);
    expect(s.events.rejected.map((r) => r.reason)).toEqual(["duplicate"]);
    expect(messagesTo(s.mock, STAFF)).toHaveLength(2);
  });

  it("limits hold back third parties only, per reporter and per reported JID", async () => {
    const s = await setup({ reporterLimit: 2, reportedLimit: 3, thirdParties: ["list@blocklist.example"], digest: { after: 0 } });
    for (const id of ["a", "b", "c"]) await s.mock.receive(serverReport({ id, optIns: ["third-party"] }));
    await s.mock.receive(serverReport({ id: "d", reporter: "bob@localhost", optIns: ["third-party"] }));
    await s.mock.receive(serverReport({ id: "e", reporter: "carol@localhost", optIns: ["third-party"] }));
    await waitForProgress(() => s.events.forwarded.length, 5, "5 reports forwarded");
    expect(s.events.rejected).toEqual([]);
    expect(messagesTo(s.mock, STAFF)).toHaveLength(5);
    expect(messagesTo(s.mock, "list@blocklist.example")).toHaveLength(3);
    const held = s.events.forwarded.flatMap((f) => f.destinations.filter((d) => d.withheld).map((d) => d.error));
    expect(held).toEqual([
      "held back: 2 reports from alice@localhost in 1 h (report_forward_reporter_limit)",
      "held back: 3 reports about spammer@bad.example in 1 h (report_forward_reported_limit)",
    ]);
  });

  it("a burst reaches staff as one digest that names every report and who sent them", async () => {
    const s = await setup({ thirdParties: ["list@blocklist.example"], digest: { after: 2, delay: 30 } });
    for (let i = 0; i < 6; i++) await s.mock.receive(serverReport({ id: `b${i}`, reported: `s${i}@bad.example`, optIns: ["third-party"] }));
    await waitForProgress(() => s.events.forwarded.length, 6, "6 reports forwarded");
    const staff = messagesTo(s.mock, STAFF);
    expect(staff).toHaveLength(3); // two one by one, then one digest of four
    const digest = staff[2]!;
    expect(digest.getChildText("body")!.split("\n")).toEqual([
      "Report digest: 4 reports from alice@localhost (6 in the last 10 min)",
      ...[2, 3, 4, 5].map((i) => `${i - 1}. Spam about s${i}@bad.example, by alice@localhost: "buy pills" (message: "cheap pills")`),
    ]);
    expect(digest.getChildren("report").map((r) => r.getChildText("jid"))).toEqual([2, 3, 4, 5].map((i) => `s${i}@bad.example`));
    expect(messagesTo(s.mock, "list@blocklist.example")).toHaveLength(6);
  });
});

describe("report-forward: sending", () => {
  it("report_forward_as_server sends through the XEP-0356 message permission, from the server domain", async () => {
    const s = await setup({ asServer: true });
    await s.mock.receive(
      xml("message", { from: "localhost", to: GW }, xml("privilege", "urn:xmpp:privilege:2", xml("perm", { access: "message", type: "outgoing" }))),
    );
    await s.mock.receive(serverReport());
    await forwardedOnce(s);
    const wrapper = s.mock.sent.find((m) => m.name === "message" && m.getChild("privilege", "urn:xmpp:privilege:2"))!;
    expect(wrapper.attrs.to).toBe("localhost");
    const inner = wrapper.getChild("privilege")!.getChild("forwarded", NS_FORWARD)!.getChild("message")!;
    expect(inner.attrs).toMatchObject({ from: "localhost", to: STAFF });
  });

  it("without the permission the report waits in the outbox, and goes out once the server grants it", async () => {
    const s = await setup({ asServer: true });
    await s.mock.receive(serverReport());
    await waitFor(() => s.desk.pending === 1, "the report in the outbox"); // taken (the intake is asynchronous)
    await sleep(50); // a short quiet period: nothing may go out without the permission
    expect(s.events.forwarded).toHaveLength(0);
    expect(s.desk.pending).toBe(1);
    await s.mock.receive(
      xml("message", { from: "localhost", to: GW }, xml("privilege", "urn:xmpp:privilege:2", xml("perm", { access: "message", type: "outgoing" }))),
    );
    s.mock.entity.emit("online", s.mock.entity.jid); // a reconnect: the outbox tries again at once
    const done = await forwardedOnce(s);
    expect(done.destinations[0]).toMatchObject({ jid: STAFF, ok: true });
    expect(s.desk.pending).toBe(0);
  });

  it("a staff room is joined through track-muc-joins and gets a groupchat message", async () => {
    const kept: { room: string; nick: string; from?: string | undefined }[] = [];
    let joined = false;
    const emitter = new TypedEmitter<{ joined: { jid: string; room: string } }>();
    const joins = extend(emitter, {
      keep(room: string, o: { nick: string; from?: string | undefined }) {
        kept.push({ room, ...o });
        setTimeout(() => {
          joined = true;
          emitter.emit("joined", { jid: GW, room });
        }, 20);
        return () => undefined;
      },
      isJoined: () => joined,
    }) as unknown as StaffRoomJoins;
    const s = await setup({ staff: ["mods@conference.localhost", STAFF], staffNick: "desk" }, joins);
    await s.mock.receive(serverReport());
    const done = await forwardedOnce(s);
    expect(kept).toEqual([{ room: "mods@conference.localhost", nick: "desk" }]); // track-muc-joins seats a component at its domain
    expect(done.destinations).toEqual([
      { jid: "mods@conference.localhost", audience: "staff", room: true, ok: true },
      { jid: STAFF, audience: "staff", room: false, ok: true },
    ]);
    const [m] = messagesTo(s.mock, "mods@conference.localhost");
    expect(m!.attrs).toMatchObject({ type: "groupchat", from: GW });
    expect(s.desk.staffRooms()).toEqual(["mods@conference.localhost"]);
  });

  it("a staff room without track-muc-joins fails that destination only", async () => {
    const s = await setup({ staff: ["mods@conference.localhost", STAFF] });
    await s.mock.receive(serverReport());
    const done = await forwardedOnce(s);
    expect(done.destinations.map((d) => [d.jid, d.ok])).toEqual([
      ["mods@conference.localhost", false],
      [STAFF, true],
    ]);
  });
});
