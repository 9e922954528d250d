// A hostile network against the gateway beside a real Prosody: a component playing a remote server that
// forges XEP-0356/0355 announcements and a delegated query, a user forging MUC self-presence and sending
// deeply nested payloads, a web app and an HTTP caller with characters XML forbids, a report larger than the
// server takes, and a few thousand generated stanzas of all those kinds. Everything is refused where it
// enters, every IQ get/set is answered, and the component link never drops.
import { component } from "@xmpp/component";
import { NS_DISCO_INFO, xml, type Element, type EventRecord } from "@xmppkit/core";
import { NS_RAA } from "@xmppkit/report-affiliations";
import type {} from "@xmppkit/http-roster-admin";
import type {} from "@xmppkit/report-forward";
import { gatewayModule as trackMucJoins } from "@xmppkit/track-muc-joins/gateway";
import { loginClient, startHttpBackend, startServer, type Ejabberd, type HttpBackend, type TestClient, type XmppServer } from "@xmppkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type Gateway } from "../src/gateway.js";
import { behaviourOf } from "./compatibility.js";
import { captureLogger, closeClient, SERVERS, testConfig, waitFor, waitForProgress } from "./helpers.js";

const TOKEN = "e2e-hostile-token-0123456789abcdef";
const EVIL = "evil.localhost";
const NS_MUC_USER = "http://jabber.org/protocol/muc#user";

interface RawComponent {
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  send(el: Element): Promise<void>;
  on(event: string, fn: (...a: never[]) => void): void;
}

/** `<x><x>…</x></x>`, `depth` levels, as text: ltx's toString would overflow the sender's stack first. */
const nested = (depth: number) => `${"<x>".repeat(depth)}${"</x>".repeat(depth)}`;

/** An IQ whose payload holds raw XML text (deep nesting). */
function iqWith(attrs: Record<string, string>, payloadName: string, ns: string, inner: string): string {
  const a = Object.entries(attrs)
    .map(([k, v]) => ` ${k}="${v}"`)
    .join("");
  return `<iq${a}><${payloadName} xmlns="${ns}">${inner}</${payloadName}></iq>`;
}

describe.each(SERVERS)("the gateway against hostile peers and bad input (real $id)", (server) => {
  const behaviour = behaviourOf(server.id);
  let prosody: XmppServer;
  let gateway: Gateway;
  let webApp: HttpBackend;
  let evil: RawComponent;
  const evilSeen: Element[] = [];
  let mallory: TestClient;
  let alice: TestClient;
  const events: EventRecord[] = [];
  const log = captureLogger();
  let GW: string;

  /**
   * Send IQs (elements, or raw XML text with an id="…" placeholder) from mallory and count the replies, by id.
   * Waits as long as replies keep coming (a busy machine is slower, not stuck); fails after `stallMs` without one.
   */
  async function everyIqAnswered(iqs: (Element | string)[], stallMs = 30_000) {
    const ids = new Set<string>();
    const raw = mallory.xmpp as unknown as { write(s: string): Promise<void> };
    for (const [i, iq] of iqs.entries()) {
      const id = `h-${Date.now().toString(36)}-${i}`;
      ids.add(id);
      if (typeof iq === "string") await raw.write(iq.replace("<iq ", `<iq id="${id}" `));
      else {
        iq.attrs.id = id;
        await mallory.xmpp.send(iq);
      }
    }
    let answered = 0;
    let seen = 0; // mallory.received only grows here (nobody calls next() on mallory)
    const count = () => {
      for (; seen < mallory.received.length; seen++) {
        const s = mallory.received[seen]!;
        if (s.name === "iq" && ids.has(s.attrs.id)) answered++;
      }
      return answered;
    };
    await waitForProgress(count, ids.size, "the IQ replies", stallMs);
    return count();
  }

  beforeAll(async () => {
    webApp = await startHttpBackend(() => ({
      body: { "ok@example.com": { name: "OK" }, "bell@example.com": { name: "Ring\u0007Bell" }, "esc@example.com": { groups: ["Work\u001B"] } },
    }));
    prosody = await startServer(server, {
      users: { alice: "alicepw", mallory: "mallorypw", mod: "modpw" },
      component: { delegations: [NS_RAA] },
      components: [{ domain: EVIL, privileges: false }],
    });
    GW = prosody.component.domain;
    const { config, sourceMap } = testConfig(
      prosody,
      `modules_enabled: [track-muc-joins, report-forward, report-affiliations, http-roster-admin]
track-muc-joins:
  rooms:
    - room: staff@${prosody.muc}
      nick: desk
report-forward:
  report_forward_to_staff: [mod@${prosody.domain}]
report-affiliations:
  report_affiliations_trusted_servers: [rtbl.example]
  report_affiliations_admins: [boss@${EVIL}, boss@${prosody.domain}]
http-roster-admin:
  http_roster_url: ${webApp.url}/contacts/%s
  http_roster_sync_on_login: false
${behaviour.rosterWriter === "ejabberd_api" ? `  http_roster_writer: ejabberd_api\n  http_roster_ejabberd_api_url: ${(prosody as Ejabberd).api}\n` : ""}`,
      { token: TOKEN },
    );
    gateway = await startGateway(config, { sourceMap, logger: log.logger });
    gateway.events.onAny((e) => void events.push(e));
    if (behaviour.delegation === "works") await waitFor(() => gateway.kit.delegation.isDelegated(NS_RAA, prosody.domain), "the delegation announcement");
    else await gateway.kit.reach.settled(); // never delegated there: the server answers those queries itself
    const c = prosody.components.find((x) => x.domain === EVIL)!;
    evil = component({ service: c.service, domain: c.domain, password: c.secret }) as unknown as RawComponent;
    evil.on("error", () => undefined);
    evil.on("stanza", (el: never) => void evilSeen.push(el as Element));
    await evil.start();
    [mallory, alice] = await Promise.all([loginClient(prosody, "mallory"), loginClient(prosody, "alice")]);
    await alice.fetchRoster();
  });

  afterAll(async () => {
    await gateway?.stop();
    await closeClient(evil);
    await mallory?.stop();
    await alice?.stop();
    await prosody?.stop();
    await webApp?.close();
  });

  it("a remote server's forged announcements are ignored, and its delegated query for its own JID is refused", async () => {
    await evil.send(xml("message", { from: EVIL, to: GW }, xml("privilege", "urn:xmpp:privilege:2", xml("perm", { access: "roster", type: "both" }))));
    await evil.send(xml("message", { from: EVIL, to: GW }, xml("delegation", "urn:xmpp:delegation:2", xml("delegated", { namespace: NS_RAA }))));
    const query = xml("iq", { xmlns: "jabber:client", type: "get", id: "q1", from: "rtbl.example", to: `boss@${EVIL}` }, xml("query", NS_RAA));
    await evil.send(
      xml("iq", { type: "set", id: "forged-1", from: EVIL, to: GW }, xml("delegation", "urn:xmpp:delegation:2", xml("forwarded", "urn:xmpp:forward:0", query))),
    );
    if (behaviour.componentIqs === "routed") {
      const reply = await waitFor(() => evilSeen.find((s) => s.attrs.id === "forged-1"), "the answer to the forged delegated IQ");
      expect(reply.attrs.type).toBe("error");
      expect(reply.getChild("error")!.getChild("forbidden")).toBeDefined();
      expect(reply.toString()).not.toContain("affiliation");
    } // else ejabberd 24.12 drops the forged IQ itself (a component's IQ to a domain): it never reaches the gateway
    await waitFor(
      () => log.lines().some((l) => l.msg === "ignored a XEP-0355 delegation announcement from a sender that is not our server"),
      "the forged delegation announcement ignored",
    );
    expect([...gateway.kit.privilege.servers.keys()]).toEqual([prosody.domain]);
    expect([...gateway.kit.delegation.delegated.keys()]).toEqual(behaviour.delegation === "works" ? [prosody.domain] : []);
  });

  it("forged MUC self-presence records no join (and so nothing to self-ping after a reconnect)", { timeout: 500 * 100 + 30_000 }, async () => {
    const joins = gateway.module(trackMucJoins)!;
    await waitFor(() => joins.isJoined(`staff@${prosody.muc}`), "the gateway in its room"); // a seat makes it look at presence
    for (let i = 0; i < 500; i++) {
      await mallory.xmpp.send(xml("presence", { to: `n${i}@${GW}` }, xml("x", NS_MUC_USER, xml("status", { code: "110" }))));
    }
    await everyIqAnswered([xml("iq", { type: "get", to: GW }, xml("query", NS_DISCO_INFO))]); // all of them were processed
    expect(joins.jids()).toEqual([GW]);
    expect(joins.entries().map((e) => e.room)).toEqual([`staff@${prosody.muc}`]);
  });

  it("deeply nested payloads (8,000 levels; 3,000 through ejabberd) to the gateway and to a delegated namespace: every IQ is answered", {
    timeout: 60 * 1000,
  }, async () => {
    const deep = nested(behaviour.deepPayload);
    const iqs = [
      ...Array.from({ length: 20 }, () => iqWith({ type: "get", to: GW }, "query", "urn:example:unknown", deep)),
      ...Array.from({ length: 20 }, () => iqWith({ type: "get", to: GW }, "query", NS_DISCO_INFO, deep)),
      ...Array.from({ length: 20 }, () => iqWith({ type: "get", to: `alice@${prosody.domain}` }, "query", NS_RAA, deep)),
    ];
    expect(await everyIqAnswered(iqs)).toBe(60);
  });

  it("characters XML forbids: a 400 at the HTTP door, a skipped web-app contact, and the link stays up", async () => {
    const report = await fetch(`${gateway.http.url}/reports`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ jid: "spammer@spam.example", reason: "spam", text: "ring \u0007 ring" }),
    });
    expect(report.status).toBe(400);
    expect(((await report.json()) as { message: string }).message).toBe("text: holds U+0007 at offset 5, which XML forbids");
    const user = await fetch(`${gateway.http.url}/roster_admin/refresh/bell%07`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(user.status).toBe(400);

    const refresh = await fetch(`${gateway.http.url}/roster_admin/refresh`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
      body: '["alice"]',
    });
    expect(await refresh.json()).toEqual({ status: "ok", message: "roster update complete", updated: 1, errors: 0 });
    const items = (await alice.fetchRoster())
      .getChild("query")!
      .getChildren("item")
      .map((i) => i.attrs.jid);
    expect(items).toEqual(["ok@example.com"]);
    const skipped = log
      .lines()
      .filter((l) => l.msg === "skipped an invalid contact in the web roster")
      .map((l) => l.reason);
    expect(skipped).toEqual(expect.arrayContaining(["name holds U+0007, which XML forbids", "a group name holds U+001B, which XML forbids"]));
  });

  it("a 600 KiB report text (under the HTTP body limit, over the server's stanza limit) is a 413, not a dropped link", async () => {
    const res = await fetch(`${gateway.http.url}/reports`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ jid: "spammer@spam.example", reason: "spam", text: "x".repeat(600 * 1024) }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { message: string }).message).toMatch(/^the report is too large to forward over XMPP/);
  });

  // everyIqAnswered waits for as long as replies keep coming; the test's own timeout is only a backstop,
  // proportional to the work: 100 ms a stanza (about 1.3 ms each on an idle 2-core machine).
  const HOSTILE = 2000;
  it("2,000 generated hostile stanzas: every IQ get/set answered, the link never dropped, the gateway still serves", { timeout: HOSTILE * 100 }, async () => {
    const kinds = [
      () => iqWith({ type: "get", to: GW }, "query", "urn:example:unknown", nested(Math.min(3000, behaviour.deepPayload))),
      () => xml("iq", { type: "set", to: GW }, xml("a", "urn:example:a"), xml("b", "urn:example:b")), // two payloads: bad-request
      () => xml("iq", { type: "get", to: GW }), // no payload
      () => xml("iq", { type: "set", to: GW }, xml("delegation", "urn:xmpp:delegation:2", xml("forwarded", "urn:xmpp:forward:0"))), // a user posing as the server
      () => iqWith({ type: "get", to: `alice@${prosody.domain}` }, "query", NS_RAA, nested(3000)),
      () => xml("iq", { type: "get", to: GW }, xml("query", NS_DISCO_INFO, xml("x", { node: "\u00e9".repeat(100) }))),
      () => xml("presence", { to: `room${Math.random()}@${GW}/nick` }, xml("x", NS_MUC_USER, xml("status", { code: "110" }), xml("status", { code: "201" }))),
      () =>
        xml("message", { to: GW }, xml("report", { xmlns: "urn:xmpp:reporting:1", reason: "urn:xmpp:reporting:spam" }, xml("jid", "urn:xmpp:jid:0", "x@y"))), // an unlisted source
      () => xml("message", { to: GW, type: "error" }, xml("error", { type: "cancel" }, xml("undefined-condition", "urn:ietf:params:xml:ns:xmpp-stanzas"))),
    ];
    const stanzas = Array.from({ length: HOSTILE }, (_, i) => kinds[i % kinds.length]!());
    const iqs = stanzas.filter((s) => typeof s === "string" || s.name === "iq");
    for (const s of stanzas) if (typeof s !== "string" && s.name !== "iq") await mallory.xmpp.send(s);
    expect(await everyIqAnswered(iqs)).toBe(iqs.length);
    expect(events.filter((e) => e.type === "link-down")).toEqual([]);
    expect(gateway.kit.lifecycle.online).toBe(true);
    const info = await alice.request(xml("iq", { type: "get", to: GW }, xml("query", NS_DISCO_INFO)));
    expect(info.getChild("query", NS_DISCO_INFO)).toBeDefined();
  });
});
