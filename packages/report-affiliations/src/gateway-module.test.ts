import { EventBus, NS_DISCO_INFO, NS_FORWARD, setupKit, xml, type Element, type EventRecord } from "@xmppkit/core";
import { createHttpServer, createMetrics } from "@xmppkit/runtime";
import { moduleHarness } from "@xmppkit/testing";
import { describe, expect, it } from "vitest";
import { NS_ACCOUNT_INFO } from "./account-info.js";
import { gatewayModule } from "./gateway-module.js";
import { NS_RAA } from "./info.js";
import { reportAffiliationsSchema } from "./options.js";
import type {} from "./events.js";

const GW = "gateway.localhost";
const NS_DELEGATION = "urn:xmpp:delegation:2";
const toServerInfo = (s: Element) => s.name === "iq" && s.attrs.to === "localhost" && !!s.getChild("query", NS_DISCO_INFO);

/** The module set up from `raw` options, the server having delegated urn:xmpp:raa:0 to the gateway. */
async function loadModule(raw: Record<string, unknown>, { online = true, accountInfo = false } = {}) {
  const h = await moduleHarness(gatewayModule, {
    core: { setupKit, EventBus },
    runtime: { createMetrics, createHttpServer },
    serverDomain: "localhost",
    domain: GW,
  });
  h.mock.replyToIq(toServerInfo, xml("query", NS_DISCO_INFO, ...(accountInfo ? [xml("feature", { var: NS_ACCOUNT_INFO })] : [])));
  const raa = await h.setup(reportAffiliationsSchema.parse(raw));
  if (online) h.online();
  await h.mock.receive(xml("message", { from: "localhost", to: GW }, xml("delegation", NS_DELEGATION, xml("delegated", { namespace: NS_RAA }))));
  return { ...h, raa };
}

/** A XEP-0489 query from `requester` about `user`, as the server forwards it; resolves with the inner reply. */
async function delegated(h: Awaited<ReturnType<typeof loadModule>>, requester: string, user: string): Promise<Element> {
  const id = `d${Math.random().toString(36).slice(2)}`;
  const replied = h.mock.nextSent((s) => s.attrs.id === id);
  await h.mock.receive(
    xml(
      "iq",
      { type: "set", from: "localhost", to: GW, id },
      xml(
        "delegation",
        NS_DELEGATION,
        xml("forwarded", NS_FORWARD, xml("iq", { xmlns: "jabber:client", type: "get", from: requester, to: user, id: "q1" }, xml("query", NS_RAA))),
      ),
    ),
  );
  return (await replied).getChild("delegation", NS_DELEGATION)!.getChild("forwarded", NS_FORWARD)!.getChild("iq")!;
}

describe("the report-affiliations gateway module", () => {
  it("maps Prosody's options: trusted servers, admins, default trust, the gateway's own affiliation and what it stamps", async () => {
    const h = await loadModule({
      report_affiliations_trusted_servers: ["rtbl.example"],
      report_affiliations_admins: ["boss@localhost"],
      report_affiliations_default_trust: 70,
      report_affiliations_self: "admin",
      report_affiliations_stamp: ["message"],
    });
    expect([...h.raa.trustedServers]).toEqual(["rtbl.example"]);
    expect(await h.raa.infoFor("boss@localhost")).toMatchObject({ affiliation: "admin" });
    expect((await delegated(h, "rtbl.example", "alice@localhost")).getChild("info", NS_RAA)!.attrs).toMatchObject({ affiliation: "registered", trust: "70" });
    expect((await delegated(h, "other.example", "alice@localhost")).attrs.type).toBe("error"); // not trusted
    await h.ctx.kit.stanzas.send(xml("message", { from: GW, to: "alice@localhost" }, xml("body", {}, "hi")));
    await h.ctx.kit.stanzas.send(xml("presence", { from: GW, to: "room@conference.localhost/desk" }));
    const [message, presence] = h.mock.sent.filter((s) => s.name !== "iq" && String(s.attrs.to).includes("@"));
    expect(message!.getChild("info", NS_RAA)!.attrs.affiliation).toBe("admin");
    expect(presence!.getChild("info", NS_RAA)).toBeUndefined();
    await h.stop();
  });

  it("warns at setup when no server is trusted: every query is then forbidden", async () => {
    const h = await loadModule({}, { online: false });
    expect(h.lines().find((l) => l.level === 40)).toMatchObject({
      module: "report-affiliations",
      msg: "report_affiliations_trusted_servers is empty: every query will be answered with forbidden",
    });
    await h.stop();
  });

  it("counts queries in queries_total by outcome and route, logs them, and puts them on the bus", async () => {
    const h = await loadModule({ report_affiliations_trusted_servers: ["rtbl.example"] });
    const onBus: EventRecord<"affiliation-queried">[] = [];
    h.events.on("affiliation-queried", (r) => onBus.push(r));
    await delegated(h, "rtbl.example", "alice@localhost");
    await delegated(h, "rtbl.example", "bob@localhost");
    await delegated(h, "mallory.example", "alice@localhost");
    const counts = (await h.metrics.text()).split("\n").filter((l) => l.startsWith("xmppkit_report_affiliations_queries_total"));
    expect(counts.sort()).toEqual([
      'xmppkit_report_affiliations_queries_total{outcome="answered",via="delegation"} 2',
      'xmppkit_report_affiliations_queries_total{outcome="forbidden",via="delegation"} 1',
    ]);
    expect(onBus.map((r) => [r.module, r.payload.requester, r.payload.outcome])).toEqual([
      ["report-affiliations", "rtbl.example", "answered"],
      ["report-affiliations", "rtbl.example", "answered"],
      ["report-affiliations", "mallory.example", "forbidden"],
    ]);
    expect(
      h
        .lines()
        .filter((l) => l.msg?.startsWith("affiliation query"))
        .map((l) => l.msg),
    ).toEqual(["affiliation query answered", "affiliation query answered", "affiliation query forbidden"]);
    await h.stop();
  });

  it("report_affiliations_account_info: at online, says when the server tells account creation times", async () => {
    const h = await loadModule({ report_affiliations_trusted_servers: ["rtbl.example"] }, { accountInfo: true });
    expect(await h.line((l) => l.module === "report-affiliations" && l.level === 30 && !!l.msg?.includes("mod_xmppkit_account_info"))).toMatchObject({
      server: "localhost",
      msg: "the server tells when accounts were made (mod_xmppkit_account_info): XEP-0489 answers carry since",
    });
    await h.stop();
  });

  it("report_affiliations_account_info: true warns when the server does not advertise it; false never asks", async () => {
    const required = await loadModule({ report_affiliations_trusted_servers: ["rtbl.example"], report_affiliations_account_info: true });
    expect(await required.line((l) => l.module === "report-affiliations" && l.level === 40)).toMatchObject({
      server: "localhost",
      msg: "report_affiliations_account_info is true but the server does not advertise mod_xmppkit_account_info: no since",
    });
    await required.stop();
    const off = await loadModule({ report_affiliations_trusted_servers: ["rtbl.example"], report_affiliations_account_info: false });
    await delegated(off, "rtbl.example", "alice@localhost");
    expect(off.mock.sent.filter(toServerInfo)).toEqual([]);
    await off.stop();
  });

  it("onStop stops stamping and the account-info check at each (re)connect", async () => {
    const h = await loadModule({ report_affiliations_trusted_servers: ["rtbl.example"] }, { online: false });
    await h.stop();
    h.online();
    await h.ctx.kit.stanzas.send(xml("presence", { from: GW, to: "room@conference.localhost/desk" }));
    const presence = h.mock.sent.find((s) => s.name === "presence" && s.attrs.to === "room@conference.localhost/desk");
    expect(presence!.getChild("info", NS_RAA)).toBeUndefined();
    expect(h.mock.sent.filter(toServerInfo)).toEqual([]);
  });
});
