import { EventBus, setupKit, xml, type Element } from "@xmppkit/core";
import { createHttpServer, createMetrics, openSqliteStore } from "@xmppkit/runtime";
import { moduleHarness } from "@xmppkit/testing";
import { describe, expect, it } from "vitest";
import { gatewayModule } from "./gateway-module.js";
import { rosterAdminSchema } from "./options.js";

const DISCO_INFO = "http://jabber.org/protocol/disco#info";
const toServerInfo = (iq: Element) => iq.attrs.to === "localhost" && !!iq.getChild("query", DISCO_INFO);

async function loadModule(perms: Record<string, string>, serverName: string) {
  const h = await moduleHarness(gatewayModule, {
    core: { setupKit, EventBus },
    runtime: { createMetrics, createHttpServer },
    serverDomain: "localhost",
    domain: "gateway.localhost",
    store: await openSqliteStore(":memory:"),
  });
  // The two server checks at online (batch feature, software) ask the server's disco#info: `answered`
  // resolves once both answers were taken in.
  let asked = 0;
  let answer!: () => void;
  const answered = new Promise<void>((r) => {
    answer = r;
  });
  h.mock.replyToIq(toServerInfo, () => {
    if (++asked === 2) setImmediate(() => setImmediate(answer));
    return xml("query", DISCO_INFO, xml("identity", { category: "server", type: "im", name: serverName }));
  });
  const admin = await h.setup(rosterAdminSchema.parse({ http_roster_url: "http://127.0.0.1:9/%s" }));
  await h.mock.receive(
    xml(
      "message",
      { from: "localhost", to: "gateway.localhost" },
      xml("privilege", "urn:xmpp:privilege:2", ...Object.entries(perms).map(([access, type]) => xml("perm", { access, type }))),
    ),
  );
  h.online();
  return { ...h, admin, answered };
}

describe("the http-roster-admin gateway module", () => {
  it("warns at start when the presence permission is missing: users are then synced only on request", async () => {
    const m = await loadModule({ roster: "both" }, "Prosody");
    await m.line((l) => l.level === 40 && l.module === "http-roster-admin");
    expect(m.lines()).toContainEqual(
      expect.objectContaining({ level: 40, msg: expect.stringContaining("no XEP-0356 presence permission: users are synced only through the HTTP API") }),
    );
    await m.stop();
  });

  it("says plainly at start that privileged roster writes do not work on ejabberd, and what to set", async () => {
    const m = await loadModule({ roster: "both", presence: "roster" }, "ejabberd");
    const error = await m.line((l) => l.level === 50);
    expect(error).toMatchObject({ software: "ejabberd", msg: expect.stringContaining("ejabberd's XEP-0356 roster writes do not do the job") });
    expect(String(error.fix)).toMatch(/^http_roster_writer: ejabberd_api, http_roster_ejabberd_api_url: /);
    await m.stop();
  });

  it("no warnings on Prosody with roster and presence granted", async () => {
    const m = await loadModule({ roster: "both", presence: "managed_entity" }, "Prosody");
    await m.answered;
    expect(m.lines().filter((l) => (l.level as number) >= 40)).toEqual([]);
    await m.stop();
  });

  it("validates its options with Prosody's names", () => {
    expect(rosterAdminSchema.safeParse({ http_roster_url: "http://app/contacts/" }).error?.issues[0]?.message).toMatch(/must contain %s/);
    expect(rosterAdminSchema.safeParse({ http_roster_url: "http://app/%s", http_roster_urll: "x" }).success).toBe(false);
    const o = rosterAdminSchema.parse({ http_roster_url: "http://app/%s", http_roster_timeout: "2s", http_roster_login_debounce: "5m" });
    expect(o).toMatchObject({ http_roster_timeout: 2000, http_roster_login_debounce: 300_000, http_roster_retries: 2, http_roster_path: "/roster_admin" });
  });
});
