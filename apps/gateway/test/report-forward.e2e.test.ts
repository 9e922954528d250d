// End-to-end: the gateway as the network's abuse desk (report-forward, loaded by package name), against
// every server of the suite. A client stands in for the server's mod_report_forward (Debian 12's
// prosody-modules has neither it nor mod_spam_reporting, ejabberd has no such module) and hands reports over
// as the module's recorded bytes (@xmppkit/testing's fixtures; only `from` is the client's, stamped by the
// server); a second VirtualHost publishes its abuse address. abuse-desk.e2e drives the original modules.
import type {} from "@xmppkit/report-forward";
import { NS_FORWARD, NS_STANZAS, parseXml, type Element, type EventRecord } from "@xmppkit/core";
import { NS_JID, NS_REPORTING } from "@xmppkit/report-forward";
import { gatewayModule as reportForward } from "@xmppkit/report-forward/gateway";
import { enterRoom, loginClient, modReportForward, startServer, type TestClient, type XmppServer } from "@xmppkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type Gateway } from "../src/gateway.js";
import { behaviourOf } from "./compatibility.js";
import { captureLogger, SERVERS, testConfig, waitFor } from "./helpers.js";

const TOKEN = "e2e-reports-token-0123456789abcdef";
const ORIGIN = "elsewhere.test";

/** What Prosody's mod_report_forward sends when alice's archive had the reported message (the recorded shape 1). */
function serverReport(gateway: string, reported: string, optIns: string[] = [], id = `sid-${Math.random().toString(36).slice(2)}`) {
  const el = parseXml(
    modReportForward.withArchivedMessage({
      id: `r-${id}`,
      reporter: "alice@localhost",
      reported,
      text: "unsolicited pills",
      sid: id,
      optIns: optIns.map((o) => `<${o}/>`).join(""),
      sentAt: "2026-11-20T10:11:12Z",
      messageId: id,
      body: "cheap pills here",
    }),
  );
  el.attrs.to = gateway;
  delete el.attrs.from; // the forwarder's server stamps it
  return el;
}

const isReport = (el: Element) => el.is("message") && el.getChild("report", NS_REPORTING) !== undefined;
const about = (jid: string) => (el: Element) => isReport(el) && el.getChild("report", NS_REPORTING)!.getChildText("jid", NS_JID) === jid;

describe.each(SERVERS)("report-forward against a real $id", (server) => {
  const behaviour = behaviourOf(server.id);
  let prosody: XmppServer;
  let gateway: Gateway;
  let forwarder: TestClient, mallory: TestClient, mod: TestClient, list: TestClient, abuse: TestClient, bob: TestClient;
  let room: string;
  const events: EventRecord[] = [];
  const log = captureLogger();

  beforeAll(async () => {
    // The origin publishes its abuse address (XEP-0157): Prosody's contact_info, ejabberd's server_info.
    prosody = await startServer(server, {
      users: { forwarder: "fpw", mallory: "mpw", mod: "modpw", list: "lpw", bob: "bobpw", alice: "alicepw", carol: "carolpw" },
      virtualHosts: [
        {
          domain: ORIGIN,
          users: { abuse: "abusepw", spammer: "spammerpw" },
          contactInfo: { "abuse-addresses": [`mailto:abuse@${ORIGIN}`, `xmpp:abuse@${ORIGIN}`] },
        },
      ],
    });
    room = `moderators@${prosody.muc}`;
    [forwarder, mallory, mod, list, abuse, bob] = await Promise.all([
      loginClient(prosody, "forwarder"),
      loginClient(prosody, "mallory"),
      loginClient(prosody, "mod"),
      loginClient(prosody, "list"),
      loginClient(prosody, `abuse@${ORIGIN}`),
      loginClient(prosody, "bob"),
    ]);
    await enterRoom(bob, room, "bob");
    const { config, sourceMap } = testConfig(
      prosody,
      `modules_enabled: [track-muc-joins, ping-muc, report-forward]
ping-muc:
  ping_muc_delay: 0.5
report-forward:
  report_forward_sources: [forwarder@${prosody.domain}]
${
  behaviour.staffRooms === "found"
    ? `  report_forward_to_staff: [mod@${prosody.domain}, ${room}]`
    : `  report_forward_to_staff: [mod@${prosody.domain}]\n  report_forward_staff_rooms: [${room}]`
}
  report_forward_to: [list@${prosody.domain}]
  report_forward_reporter_limit: 20
  report_forward_digest_after: 0
`,
      { token: TOKEN },
    );
    const deskEntered = bob.next((el) => el.is("presence") && !el.attrs.type && el.attrs.from === `${room}/abuse-desk`, 15_000);
    gateway = await startGateway(config, { sourceMap, logger: log.logger });
    gateway.events.onAny((e) => events.push(e));
    await deskEntered;
  });

  afterAll(async () => {
    await gateway?.stop();
    await Promise.all([forwarder, mallory, mod, list, abuse, bob].map((c) => c?.stop()));
    await prosody?.stop();
  });

  it("a report from the allowed source reaches the staff user and the moderators' room, and nobody outside", async () => {
    const reported = `spammer@${ORIGIN}`;
    await forwarder.xmpp.send(serverReport(prosody.component.domain, reported));
    const toMod = await mod.next(about(reported), 10_000);
    expect(toMod.attrs.from).toBe(prosody.component.domain);
    expect(toMod.getChildText("body")).toContain("Reported by: alice@localhost");
    expect(toMod.getChildText("body")).toContain("> cheap pills here");
    expect(toMod.getChild("forwarded", NS_FORWARD)!.getChild("message")!.attrs.to).toBe("alice@localhost");
    const inRoom = await bob.next((el) => el.attrs.type === "groupchat" && el.attrs.from === `${room}/abuse-desk` && about(reported)(el), 10_000);
    expect(inRoom.getChildText("body")).toContain(`report about ${reported}`);
    const forwarded = await waitFor(() => events.find((e) => e.type === "report-forwarded"), "report-forwarded");
    expect((forwarded.payload as { destinations: { jid: string; ok: boolean }[] }).destinations.map((d) => [d.jid, d.ok])).toEqual([
      [`mod@${prosody.domain}`, true],
      [room, true],
    ]);
    expect(list.received.filter(isReport)).toHaveLength(0);
    expect(abuse.received.filter(isReport)).toHaveLength(0);
  });

  it("a report from an unlisted source is refused with forbidden and goes nowhere", async () => {
    const reported = `mallory-target@${ORIGIN}`;
    await mallory.xmpp.send(serverReport(prosody.component.domain, reported, ["report-origin", "third-party"]));
    const err = await mallory.next((el) => el.is("message") && el.attrs.type === "error", 10_000);
    expect(err.getChild("error")!.getChild("forbidden", NS_STANZAS)).toBeDefined();
    await waitFor(() => events.find((e) => e.type === "report-rejected" && (e.payload as { reason: string }).reason === "unlisted-source"), "report-rejected");
    for (const c of [mod, list, abuse]) expect(c.received.filter(about(reported))).toHaveLength(0);
  });

  it("<report-origin/>: the origin's published abuse address gets it, with the reporter hidden", async () => {
    const reported = `spammer@${ORIGIN}`;
    await forwarder.xmpp.send(serverReport(prosody.component.domain, reported, ["report-origin"], "sid-origin"));
    if (behaviour.originAddress === "fallback") {
      // No disco of the origin can be routed: its report goes to the bare domain, as Prosody's fallback does;
      // ejabberd takes no messages at a domain (item-not-found), and the destination says so.
      type Forwarded = { destinations: { jid: string; audience: string; address?: string; ok: boolean }[] };
      const toOrigin = (e: EventRecord) => e.type === "report-forwarded" && (e.payload as Forwarded).destinations.some((d) => d.audience === "origin");
      const done = await waitFor(() => events.find(toOrigin), "report-forwarded to the origin");
      expect((done.payload as Forwarded).destinations).toContainEqual({
        jid: ORIGIN,
        audience: "origin",
        address: "fallback",
        ok: false,
        error: "item-not-found",
      });
      expect(log.lines().some((l) => l.msg === "looking up the origin's contact addresses failed" && String(l.error).includes("mod_privilege"))).toBe(true);
      return;
    }
    const toOrigin = await abuse.next(about(reported), 10_000);
    expect(toOrigin.attrs.from).toBe(prosody.component.domain);
    expect(toOrigin.toString()).not.toContain("alice@localhost");
    const copy = toOrigin.getChild("forwarded", NS_FORWARD)!.getChild("message")!;
    expect(copy.attrs.to).toBeUndefined();
    expect(copy.getChildText("body")).toBe("cheap pills here");
    expect(toOrigin.getChildText("body")).toContain("The reported message was sent at: 2026-11-20T10:11:12Z");
    await mod.next((el) => about(reported)(el) && el.getChild("report", NS_REPORTING)!.getChild("report-origin") !== undefined, 10_000);
    expect(list.received.filter(isReport)).toHaveLength(0); // no <third-party/>
  });

  it("<third-party/>: the block list gets it, without the reporter", async () => {
    const reported = `other-spammer@${ORIGIN}`;
    await forwarder.xmpp.send(serverReport(prosody.component.domain, reported, ["third-party"]));
    const toList = await list.next(about(reported), 10_000);
    expect(toList.toString()).not.toContain("alice@localhost");
    expect(abuse.received.filter(about(reported))).toHaveLength(0); // no <report-origin/>
  });

  it("the same report again is not forwarded twice", async () => {
    const reported = `dup@${ORIGIN}`;
    await forwarder.xmpp.send(serverReport(prosody.component.domain, reported, [], "sid-dup"));
    await mod.next(about(reported), 10_000);
    await forwarder.xmpp.send(serverReport(prosody.component.domain, reported, [], "sid-dup"));
    await waitFor(
      () => events.find((e) => e.type === "report-rejected" && (e.payload as { reason: string }).reason === "duplicate"),
      "the duplicate to be refused",
    );
    const forwards = events.filter((e) => e.type === "report-forwarded" && (e.payload as { reported: string }).reported === reported);
    expect(forwards).toHaveLength(1);
    expect(mod.received.filter(about(reported))).toHaveLength(0); // the first was taken by next() above; no second came
  });

  it("POST /reports (a web moderation tool) reaches the staff; bad JSON gets a clear 400", async () => {
    const url = `${gateway.http.url}/reports`;
    const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
    const bad = await fetch(url, { method: "POST", headers, body: '{"jid": "x@y"' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/not valid JSON/);
    const res = await fetch(url, {
      method: "POST",
      headers,
      body: JSON.stringify({ jid: `web@${ORIGIN}`, reason: "abuse", reporter: `bob@${prosody.domain}`, text: "threats" }),
    });
    expect(res.status).toBe(202);
    const toMod = await mod.next(about(`web@${ORIGIN}`), 10_000);
    expect(toMod.getChildText("body")).toMatch(/^Abuse report about web@elsewhere\.test\nReported by: bob@localhost\nReporter says: threats/);
    expect((await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status).toBe(401);
  });

  it("the desk's metrics count what happened", async () => {
    const desk = gateway.module(reportForward)!;
    expect(desk.staffRooms()).toEqual([room]);
    // elsewhere.test, looked up once (a lookup the server could not route is not cached: asked again next time)
    expect(desk.contacts.size).toBe(behaviour.originAddress === "published" ? 1 : 0);
  });

  it("the module's real shapes: who reported is said honestly to staff, and never to a third party", async () => {
    const send = (bytes: string) => {
      const el = parseXml(bytes);
      el.attrs.to = prosody.component.domain;
      delete el.attrs.from;
      return forwarder.xmpp.send(el);
    };
    // <stanza-id by=alice> (XEP-0359's reading) and <third-party/>: no <forwarded>, but the report names her.
    await send(modReportForward.byReporter({ id: "by-1", reporter: `alice@${prosody.domain}`, reported: `named@${ORIGIN}`, sid: "sid-by-1" }));
    const toStaff = await mod.next(about(`named@${ORIGIN}`), 10_000);
    expect(toStaff.getChildText("body")).toContain(`Reported by: alice@${prosody.domain}`);
    const toList = await list.next(about(`named@${ORIGIN}`), 10_000);
    // (list@ is a local account only in this test: the copy is addressed to it)
    expect([...toList.toString().matchAll(/[\w.+-]+@localhost\b/g)].map((m) => m[0]).filter((j) => j !== `list@${prosody.domain}`)).toEqual([]);
    // No message found: nobody is named. Two users' reports of one JID, with the same words, are two reports.
    await send(modReportForward.withoutMessage({ id: "anon-1", reported: `x1@${ORIGIN}`, text: "spam" }));
    await send(modReportForward.withoutMessage({ id: "anon-2", reported: `x1@${ORIGIN}`, text: "spam" }));
    const first = await mod.next(about(`x1@${ORIGIN}`), 10_000);
    await mod.next(about(`x1@${ORIGIN}`), 10_000);
    expect(first.getChildText("body")).toContain("Reported by: a user of localhost; the server did not name them");
  });

  it("the per-reporter limit holds for reports the server forwards (25 from carol, limit 20): staff get all, the block list 20", async () => {
    for (let i = 0; i < 25; i++) {
      const el = parseXml(
        modReportForward.byReporter({ id: `carol-${i}`, reporter: `carol@${prosody.domain}`, reported: `flood${i}@${ORIGIN}`, sid: `sid-carol-${i}` }),
      );
      el.attrs.to = prosody.component.domain;
      delete el.attrs.from;
      await forwarder.xmpp.send(el);
    }
    const flood = (el: Element) => isReport(el) && /flood\d+@/.test(el.getChild("report", NS_REPORTING)!.getChildText("jid", NS_JID) ?? "");
    await waitFor(() => mod.received.filter(flood).length === 25, "all 25 of carol's reports at the staff");
    await waitFor(() => list.received.filter(flood).length === 20, "20 of carol's reports at the block list");
    type Forwarded = { destinations: { jid: string; withheld?: boolean; error?: string }[] };
    const held = () => events.flatMap((e) => (e.type === "report-forwarded" ? (e.payload as Forwarded).destinations.filter((d) => d.withheld) : []));
    await waitFor(() => held().length === 5, "5 of carol's reports held back from the block list");
    expect(held().map((d) => [d.jid, d.error])).toEqual(
      Array(5).fill([`list@${prosody.domain}`, `held back: 20 reports from carol@${prosody.domain} in 1 h (report_forward_reporter_limit)`]),
    );
  });

  // Last: it restarts Prosody, which ends every client's session.
  // Prosody brings its rooms back after a restart; ejabberd does not (non-persistent rooms), so the room's
  // copies bounce until ping-muc finds the seat gone and track-muc-joins re-creates the room.
  it("reports accepted (202) while the server restarts are all delivered once it is back: the outbox loses nothing", { timeout: 90_000 }, async () => {
    const url = `${gateway.http.url}/reports`;
    const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
    const down = gateway.kit.lifecycle.next("link-lost", 10_000);
    const restarting = prosody.restart();
    await down;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(url, {
        method: "POST",
        headers,
        body: JSON.stringify({ jid: `outage${i}@${ORIGIN}`, reason: "spam", text: `during the outage ${i}` }),
      });
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { id: string }).id);
    }
    await restarting;
    mod = await loginClient(prosody, "mod");
    for (let i = 0; i < 5; i++) await mod.next(about(`outage${i}@${ORIGIN}`), 60_000);
    const desk = gateway.module(reportForward)!;
    await waitFor(() => desk.pending === 0, "an empty outbox", 60_000);
    const delivered = events
      .filter((e) => e.type === "report-forwarded" && ids.includes((e.payload as { id: string }).id))
      .flatMap((e) => (e.payload as { destinations: { jid: string; ok: boolean }[] }).destinations.filter((d) => d.jid === `mod@${prosody.domain}` && d.ok));
    expect(delivered).toHaveLength(5); // each recorded once, as delivered
  });
});
