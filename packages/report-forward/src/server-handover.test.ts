import { NS_DISCO_INFO, NS_PING, setupKit, xml, type Element, type XmppEntity } from "@xmppkit/core";
import { mockComponent, modReportForward as real, waitFor, waitForProgress, type MockEntity } from "@xmppkit/testing";
import { parseXml } from "@xmppkit/core";
import { afterEach, describe, expect, it } from "vitest";
import { NS_JID, NS_REPORTING, REASON_SPAM } from "./report.js";
import { setupReportForward, type ReportForward, type ReportForwardEvents } from "./report-forward.js";
import { NS_REPORT_HANDOVER } from "./server-handover.js";

const GW = "gateway.localhost";
const STAFF = "mod@localhost";
const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

let desk: ReportForward | undefined;
afterEach(() => desk?.stop());

async function setup(companion: boolean) {
  const mock = await mockComponent<XmppEntity>({ domain: GW });
  const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
  const features = companion ? [xml("feature", { var: NS_REPORT_HANDOVER })] : [];
  mock.replyToIq(
    (s) => s.attrs.to === "localhost" && s.getChild("query", NS_DISCO_INFO) !== undefined,
    xml("query", NS_DISCO_INFO, xml("identity", { category: "server", type: "im" }), ...features),
  );
  mock.replyToIq((s) => s.getChild("ping", NS_PING) !== undefined, true);
  desk = setupReportForward(kit, { staff: [STAFF] });
  const forwarded: ReportForwardEvents["forwarded"][] = [];
  const received: ReportForwardEvents["received"][] = [];
  desk.on("forwarded", (f) => forwarded.push(f));
  desk.on("received", (r) => received.push(r));
  mock.entity.emit("online", mock.entity.jid);
  return { mock, desk, forwarded, received };
}

function handover(o: { id?: string; from?: string; reporter?: string; reported?: string; report?: boolean } = {}) {
  const reported = o.reported ?? "spammer@bad.example";
  return xml(
    "iq",
    { type: "set", from: o.from ?? "localhost", to: GW, id: o.id ?? "h1" },
    xml(
      "handover",
      { xmlns: NS_REPORT_HANDOVER, reporter: o.reporter ?? "dave@localhost", resource: "phone", session: "c2s55aa", type: "spam" },
      ...(o.report === false ? [] : [xml("report", { xmlns: NS_REPORTING, reason: REASON_SPAM }, xml("text", {}, "pills"), xml("jid", NS_JID, reported))]),
    ),
  );
}

/** The answer to IQ `id`. */
async function answer(mock: MockEntity<XmppEntity>, id: string): Promise<Element> {
  return waitFor(() => mock.sent.find((s) => s.name === "iq" && s.attrs.id === id && s.attrs.type !== "set" && s.attrs.type !== "get"), `the answer to ${id}`);
}
const condition = (iq: Element) =>
  iq.getChild("error")?.children.find((c) => typeof c !== "string" && c.attrs.xmlns === NS_STANZAS && c.name !== "text") as Element | undefined;

describe("reports the server hands over (mod_xmppkit_report_forward)", () => {
  it("takes a handover with its reporter, answers once it is stored, and staff read who reported", async () => {
    const s = await setup(true);
    await s.mock.receive(handover());
    expect((await answer(s.mock, "h1")).attrs).toMatchObject({ type: "result", to: "localhost" });
    await waitForProgress(() => s.forwarded.length, 1, "the report forwarded");
    expect(s.received[0]).toMatchObject({ via: "handover", source: "localhost", reporter: "dave@localhost", reported: "spammer@bad.example" });
    const m = s.mock.sent.find((x) => x.name === "message" && x.attrs.to === STAFF)!;
    expect(m.getChildText("body")).toContain("Reported by: dave@localhost");
  });

  it("the same handover again (the module retrying) is answered, and not forwarded twice", async () => {
    const s = await setup(true);
    await s.mock.receive(handover({ id: "h1" }));
    await s.mock.receive(handover({ id: "h2" }));
    expect((await answer(s.mock, "h2")).attrs.type).toBe("result");
    await waitForProgress(() => s.forwarded.length, 1, "the report forwarded");
    expect(s.mock.sent.filter((x) => x.name === "message" && x.attrs.to === STAFF)).toHaveLength(1);
  });

  it("only a served domain itself may hand over, only for its own accounts, and only a report", async () => {
    const s = await setup(true);
    await s.mock.receive(handover({ id: "a", from: "mallory@localhost/x" }));
    await s.mock.receive(handover({ id: "b", from: "evil.example" }));
    await s.mock.receive(handover({ id: "c", reporter: "dave@evil.example" }));
    await s.mock.receive(handover({ id: "d", reporter: "dave@localhost/phone" }));
    await s.mock.receive(handover({ id: "e", report: false }));
    const conditions = [];
    for (const id of ["a", "b", "c", "d", "e"]) conditions.push(condition(await answer(s.mock, id))?.name);
    expect(conditions).toEqual(["forbidden", "forbidden", "bad-request", "bad-request", "bad-request"]);
    expect(s.received).toEqual([]);
  });

  it("where the server advertises the module, mod_report_forward's copy is dropped", async () => {
    const s = await setup(true);
    await s.mock.receive(handover());
    await s.mock.receive(parseXml(real.withoutMessage({ id: "copy-1", reported: "spammer@bad.example", text: "pills" })));
    await s.mock.receive(handover({ id: "h2", reported: "other@bad.example" })); // comes after the copy is handled
    await waitForProgress(() => s.forwarded.length, 2, "both reports forwarded");
    expect(s.received.map((r) => r.via)).toEqual(["handover", "handover"]);
  });

  it("where it does not, mod_report_forward's messages are taken, and staff are told the server did not name the reporter", async () => {
    const s = await setup(false);
    await s.mock.receive(parseXml(real.withoutMessage({ id: "m-1", reported: "spammer@bad.example", text: "pills" })));
    await waitForProgress(() => s.forwarded.length, 1, "the report forwarded");
    const m = s.mock.sent.find((x) => x.name === "message" && x.attrs.to === STAFF)!;
    expect(m.getChildText("body")).toContain("Reported by: a user of localhost; the server did not name them (mod_xmppkit_report_forward would)");
  });

  it("a stopped desk answers service-unavailable of type wait, so that the module keeps the report", async () => {
    const s = await setup(true);
    await s.desk.stop();
    await s.mock.receive(handover({ id: "late" }));
    const late = await answer(s.mock, "late");
    expect(condition(late)?.name).toBe("service-unavailable");
    expect(late.getChild("error")!.attrs.type).toBe("wait");
  });
});
