import { EventBus, NS_DISCO_INFO, NS_FORWARD, NS_PING, setupKit, xml, type Element, type EventName, type EventRecord } from "@xmppkit/core";
import { createHttpServer, createMetrics, openSqliteStore } from "@xmppkit/runtime";
import { moduleHarness } from "@xmppkit/testing";
import { NS_MUC } from "@xmppkit/track-muc-joins";
import { gatewayModule as trackMucJoins, trackMucJoinsSchema } from "@xmppkit/track-muc-joins/gateway";
import { describe, expect, it } from "vitest";
import { gatewayModule } from "./gateway-module.js";
import { reportForwardSchema } from "./options.js";
import { NS_JID, NS_REPORTING, REASON_SPAM } from "./report.js";
import type {} from "./events.js";

const GW = "gateway.localhost";
const STAFF = "mod@localhost";

/** A report the way the server's mod_report_forward hands it over. */
const serverReport = (from = "localhost") =>
  xml(
    "message",
    { from, to: GW, id: "m1" },
    xml("body", {}, "SPAM/ABUSE REPORT"),
    xml("report", { xmlns: NS_REPORTING, reason: REASON_SPAM }, xml("text", { "xml:lang": "en" }, "buy pills"), xml("jid", NS_JID, "spammer@bad.example")),
    xml("forwarded", NS_FORWARD, xml("message", { xmlns: "jabber:client", from: "spammer@bad.example/bot", to: "alice@localhost/phone", type: "chat" })),
  );

/** The module on a mock component with an in-memory store, optionally with track-muc-joins; online. */
async function loadModule(raw: Record<string, unknown>, { withJoins = false } = {}) {
  const h = await moduleHarness(gatewayModule, {
    core: { setupKit, EventBus },
    runtime: { createMetrics, createHttpServer },
    serverDomain: "localhost",
    domain: GW,
    store: await openSqliteStore(":memory:"),
    modules: withJoins ? [{ definition: trackMucJoins, options: trackMucJoinsSchema.parse({}) }] : [],
  });
  // The server: a plain IM server on disco (its users are no rooms), and its ping answer confirms a delivery.
  h.mock.replyToIq(
    (s) => s.attrs.to === "localhost" && !!s.getChild("query", NS_DISCO_INFO),
    xml("query", NS_DISCO_INFO, xml("identity", { category: "server", type: "im" })),
  );
  h.mock.replyToIq((s) => !!s.getChild("ping", NS_PING), true);
  const desk = await h.setup(reportForwardSchema.parse(raw));
  h.online();
  /** The next `type` event on the bus. */
  const next = <K extends EventName>(type: K) => new Promise<EventRecord<K>>((r) => h.events.on(type, r));
  const metric = async (name: string) => (await h.metrics.text()).split("\n").filter((l) => l.startsWith(`xmppkit_report_forward_${name}`));
  return { ...h, desk, next, metric };
}

describe("the report-forward gateway module", () => {
  it("maps Prosody's options: a server report goes to report_forward_to_staff with report_forward_staff_body_template", async () => {
    const h = await loadModule({ report_forward_to_staff: [STAFF], report_forward_staff_body_template: "{reporter_jid} reported {reported_jid}" });
    const forwarded = h.next("report-forwarded");
    await h.mock.receive(serverReport());
    expect((await forwarded).payload.destinations).toEqual([{ jid: STAFF, audience: "staff", room: false, ok: true }]);
    const message = h.mock.sent.find((s) => s.name === "message" && s.attrs.to === STAFF)!;
    expect(message.attrs.from).toBe(GW);
    expect(message.getChildText("body")).toBe("alice@localhost reported spammer@bad.example");
    await h.stop();
  });

  it("counts what comes in, goes out and is refused (received_total, forwarded_total, outbox_reports, rejected_total), and puts it on the bus", async () => {
    const h = await loadModule({ report_forward_to_staff: [STAFF] });
    const received = h.next("report-received");
    const forwarded = h.next("report-forwarded");
    await h.mock.receive(serverReport());
    expect(await received).toMatchObject({ module: "report-forward", payload: { via: "message", reason: "spam", reported: "spammer@bad.example" } });
    expect(await forwarded).toMatchObject({ module: "report-forward" });
    const rejected = h.next("report-rejected");
    await h.mock.receive(serverReport("mallory@localhost/x")); // not a report_forward_sources JID (default: the server)
    expect(await rejected).toMatchObject({ module: "report-forward", payload: { reason: "unlisted-source" } });
    await new Promise((r) => setImmediate(r)); // the gauge is set on the next turn
    expect(await h.metric("received_total")).toEqual(['xmppkit_report_forward_received_total{via="message",reason="spam"} 1']);
    expect(await h.metric("forwarded_total")).toEqual(['xmppkit_report_forward_forwarded_total{audience="staff",outcome="ok"} 1']);
    expect(await h.metric("outbox_reports")).toEqual(["xmppkit_report_forward_outbox_reports 0"]);
    expect(await h.metric("rejected_total")).toEqual(['xmppkit_report_forward_rejected_total{reason="unlisted-source"} 1']);
    await h.stop();
  });

  it("warns at setup when there is nowhere to send reports", async () => {
    const h = await loadModule({ report_forward_to_origin: false });
    expect(h.lines().find((l) => l.level === 40)).toMatchObject({
      module: "report-forward",
      msg: "report-forward has nowhere to send reports: set report_forward_to_staff, report_forward_to or report_forward_to_origin",
    });
    await h.stop();
  });

  it("an older config's report_forward_source_limit still loads, with a warning that it is no longer used", async () => {
    const h = await loadModule({ report_forward_to_staff: [STAFF], report_forward_source_limit: 500 });
    expect(h.lines().find((l) => l.level === 40)?.msg).toMatch(/^report_forward_source_limit is no longer used/);
    await h.stop();
  });

  it("the limits and the digest options reach the desk: over the reporter limit, staff still get it; the third party does not", async () => {
    const h = await loadModule({
      report_forward_to_staff: [STAFF],
      report_forward_to: ["list@bl.example"],
      report_forward_reporter_limit: 1,
      report_forward_digest_after: 0,
    });
    const optedIn = (id: string) => {
      const m = serverReport();
      m.attrs.id = id;
      m.getChild("report")!.append(xml("third-party"));
      m.getChild("report")!.getChild("text")!.children = [id];
      return m;
    };
    for (const id of ["a", "b"]) {
      const forwarded = h.next("report-forwarded");
      await h.mock.receive(optedIn(id));
      await forwarded;
    }
    expect(h.mock.sent.filter((s) => s.name === "message" && s.attrs.to === STAFF)).toHaveLength(2);
    expect(h.mock.sent.filter((s) => s.name === "message" && s.attrs.to === "list@bl.example")).toHaveLength(1);
    expect(await h.metric("forwarded_total")).toContain('xmppkit_report_forward_forwarded_total{audience="third-party",outcome="withheld"} 1');
    await h.stop();
  });

  it("report_forward_http and report_forward_http_path: POST {path} takes reports; off, there is no route", async () => {
    const report = { jid: "spammer@bad.example", reason: "spam" };
    const on = await loadModule({ report_forward_to_staff: [STAFF], report_forward_http_path: "/abuse" });
    const received = on.next("report-received");
    expect((await on.http.inject({ method: "POST", url: "/abuse", payload: report })).statusCode).toBe(202);
    expect((await received).payload.via).toBe("http");
    await on.stop();
    const off = await loadModule({ report_forward_to_staff: [STAFF], report_forward_http: false });
    expect(off.ctx.http).toBeUndefined();
    expect((await off.http.inject({ method: "POST", url: "/reports", payload: report })).statusCode).toBe(404);
    await off.stop();
  });

  it("joins report_forward_staff_rooms through track-muc-joins, with report_forward_staff_nick", async () => {
    const h = await loadModule({ report_forward_staff_rooms: ["staff@conference.localhost"], report_forward_staff_nick: "desk-bot" }, { withJoins: true });
    const join = await h.mock.nextSent((s: Element) => s.name === "presence" && s.attrs.to === "staff@conference.localhost/desk-bot");
    expect(join.getChild("x", NS_MUC)).toBeDefined();
    expect(h.module(trackMucJoins).kept()).toEqual([{ room: "staff@conference.localhost", nick: "desk-bot", from: GW }]);
    await h.stop();
  });

  it("onStop stops taking reports in", async () => {
    const h = await loadModule({ report_forward_to_staff: [STAFF] });
    await h.stop();
    const seen: unknown[] = [];
    h.events.onAny((r) => seen.push(r));
    await h.mock.receive(serverReport());
    expect(seen).toEqual([]);
    expect(await h.metric("received_total")).toEqual([]);
  });
});
