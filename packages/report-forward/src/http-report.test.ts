import { NS_PING, setupKit, type XmppEntity } from "@xmppkit/core";
import { createHttpServer } from "@xmppkit/runtime";
import { mockComponent } from "@xmppkit/testing";
import { afterEach, describe, expect, it } from "vitest";
import { BadReportBody, parseHttpReport, registerReportRoutes } from "./http-report.js";
import { NS_REPORTING } from "./report.js";
import { setupReportForward, type Destination, type ReportForward } from "./report-forward.js";

describe("parseHttpReport", () => {
  it("reads a full report", () => {
    const r = parseHttpReport({
      jid: "spammer@bad.example",
      reason: "abuse",
      reporter: "alice@localhost/phone",
      text: { en: "rude", de: "unhöflich" },
      stanza_ids: [{ by: "spammer@bad.example", id: "s1" }],
      report_origin: true,
      third_party: false,
      message: { from: "spammer@bad.example/x", body: "you are…", id: "m7", time: "2024-11-20T10:11:12Z" },
    });
    expect(r).toMatchObject({
      reported: "spammer@bad.example",
      reason: "abuse",
      reporter: "alice@localhost",
      reportOrigin: true,
      thirdParty: false,
      texts: { en: "rude", de: "unhöflich" },
    });
    expect(r.element.attrs.xmlns).toBe(NS_REPORTING);
    expect(r.forwarded!.stamp!.toISOString()).toBe("2024-11-20T10:11:12.000Z");
    expect(r.forwarded!.message.attrs).toMatchObject({ from: "spammer@bad.example/x", to: "alice@localhost/phone", id: "m7", type: "chat" });
  });

  it.each([
    [null, /expected a JSON object/],
    [[], /expected a JSON object/],
    [{ reason: "spam" }, /^jid:/],
    [{ jid: "@@@", reason: "spam" }, /^jid:/],
    [{ jid: "a@b" }, /^reason:/],
    [{ jid: "a@b", reason: "spam", reporter: 7 }, /^reporter:/],
    [{ jid: "a@b", reason: "spam", text: ["x"] }, /^text:/],
    [{ jid: "a@b", reason: "spam", stanza_ids: [{ id: "1" }] }, /^stanza_ids:/],
    [{ jid: "a@b", reason: "spam", third_party: "yes" }, /^third_party:/],
    [{ jid: "a@b", reason: "spam", message: { from: "x@y" } }, /^message:/],
    [{ jid: "a@b", reason: "spam", message: { body: "x", time: "yesterday" } }, /^message.time:/],
    [{ jid: "a@b", reason: "spam", typo: 1 }, /unknown field: typo/],
  ])("refuses %j", (body, message) => {
    expect(() => parseHttpReport(body)).toThrow(BadReportBody);
    expect(() => parseHttpReport(body)).toThrow(message);
  });
});

describe("POST /reports", () => {
  let desk: ReportForward | undefined;
  afterEach(() => desk?.stop());

  async function setup() {
    const mock = await mockComponent<XmppEntity>({ domain: "gateway.localhost" });
    const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
    mock.replyToIq((x) => x.getChild("ping", NS_PING) !== undefined, true); // the server confirms deliveries
    desk = setupReportForward(kit, { staff: ["mod@localhost"], thirdParties: ["list@blocklist.example"], reporterLimit: 2, maxStanzaBytes: 20_000 });
    mock.entity.emit("online", mock.entity.jid);
    const http = createHttpServer({ token: "s3cret" });
    registerReportRoutes(http, desk);
    const post = (payload: string, token = "s3cret") =>
      http.inject({ method: "POST", url: "/reports", payload, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" } });
    return { mock, http, post, desk };
  }

  it("accepts a report with 202 and forwards it to the staff", async () => {
    const s = await setup();
    const done = new Promise<Destination[]>((resolve) => s.desk.once("forwarded", (f) => resolve(f.destinations)));
    const res = await s.post(JSON.stringify({ jid: "spammer@bad.example", reason: "spam", reporter: "alice@localhost" }));
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ status: "accepted" });
    expect(await done).toEqual([{ jid: "mod@localhost", audience: "staff", room: false, ok: true }]);
    const m = s.mock.sent.find((x) => x.name === "message" && x.attrs.to === "mod@localhost")!;
    expect(m.getChildText("body")).toContain("Reported by: alice@localhost");
  });

  it("400 for broken JSON and bad fields, 401 without the token, 409 for a duplicate, 202 with `withheld` over the limit", async () => {
    const s = await setup();
    const rejected: string[] = [];
    s.desk.on("rejected", (r) => rejected.push(r.reason));
    expect((await s.post("{")).statusCode).toBe(400);
    expect((await s.post("")).json<{ message: string }>().message).toMatch(/empty/);
    expect((await s.post(JSON.stringify({ jid: "a@b" }))).json<{ message: string }>().message).toMatch(/^reason:/);
    expect((await s.post("{}", "wrong")).statusCode).toBe(401);
    const one = JSON.stringify({ jid: "spammer@bad.example", reason: "spam", reporter: "alice@localhost", third_party: true, message: { body: "x", id: "1" } });
    expect((await s.post(one)).statusCode).toBe(202);
    expect((await s.post(one)).statusCode).toBe(409);
    expect((await s.post(one.replace('"id":"1"', '"id":"2"'))).statusCode).toBe(202);
    const over = await s.post(one.replace('"id":"1"', '"id":"3"'));
    expect(over.statusCode).toBe(202);
    expect(over.json()).toMatchObject({
      status: "accepted",
      withheld: [{ audience: "third-party", reason: "2 reports from alice@localhost in 1 h (report_forward_reporter_limit)" }],
    });
    expect(rejected).toEqual(["malformed", "malformed", "malformed", "duplicate"]);
  });

  it("a retry with the same Idempotency-Key is a duplicate (409), not a second report; without a reporter too", async () => {
    const s = await setup();
    const body = JSON.stringify({ jid: "spammer@bad.example", reason: "spam", text: "no reporter named" });
    const post = (key?: string) =>
      s.http.inject({
        method: "POST",
        url: "/reports",
        payload: body,
        headers: { authorization: "Bearer s3cret", "content-type": "application/json", ...(key ? { "idempotency-key": key } : {}) },
      });
    expect((await post("k-1")).statusCode).toBe(202);
    expect((await post("k-1")).statusCode).toBe(409);
    expect((await post("k-2")).statusCode).toBe(202);
    expect((await post()).statusCode).toBe(202); // no key, no reporter: nothing tells two such reports apart
    expect((await post()).statusCode).toBe(202);
  });

  it("a character XML forbids is a 400 naming the field; a report larger than the server takes is a 413; nothing is sent", async () => {
    const s = await setup();
    const bell = await s.post(JSON.stringify({ jid: "spammer@bad.example", reason: "spam", text: "ring\u0007" }));
    expect(bell.statusCode).toBe(400);
    expect(bell.json<{ message: string }>().message).toBe("text: holds U+0007 at offset 4, which XML forbids");
    const nested = await s.post(JSON.stringify({ jid: "spammer@bad.example", reason: "spam", message: { body: "ok", id: "x\u001B" } }));
    expect(nested.json<{ message: string }>().message).toBe("message.id: holds U+001B at offset 1, which XML forbids");
    const big = await s.post(JSON.stringify({ jid: "spammer@bad.example", reason: "spam", text: "x".repeat(30_000) }));
    expect(big.statusCode).toBe(413);
    expect(big.json<{ message: string }>().message).toMatch(/^the report is too large to forward over XMPP \(\d+ bytes is over the 20000-byte stanza limit/);
    expect(s.mock.sent.filter((m) => m.name === "message")).toHaveLength(0);
  });
});
