import { EventBus, setupKit, xml, type ModuleContext, type XmppEntity } from "@xmppkit/core";
import { createHttpServer, createMetrics } from "@xmppkit/runtime";
import { captureLogger } from "@xmppkit/testing";
import { mockComponent } from "@xmppkit/testing";
import { describe, expect, it } from "vitest";
import { gatewayModule } from "./gateway-module.js";
import { rosterAdminSchema } from "./options.js";

async function loadModule(perms: Record<string, string>, serverName: string) {
  const mock = await mockComponent<XmppEntity>();
  const { logger, lines: logLines } = captureLogger();
  const kit = setupKit(mock.entity, { serverDomain: "localhost" });
  const http = createHttpServer({ listen: "127.0.0.1:0" });
  const stops: (() => unknown)[] = [];
  const ctx: ModuleContext = {
    name: gatewayModule.name,
    kit,
    log: logger,
    events: new EventBus().forModule(gatewayModule.name),
    metrics: createMetrics(),
    http,
    store: undefined,
    module: () => {
      throw new Error("none");
    },
    optionalModule: () => undefined,
    onStop: (fn) => void stops.push(fn),
  };
  mock.replyToIq(
    (iq) => iq.attrs.to === "localhost" && !!iq.getChild("query", "http://jabber.org/protocol/disco#info"),
    xml("query", "http://jabber.org/protocol/disco#info", xml("identity", { category: "server", type: "im", name: serverName })),
  );
  const options = rosterAdminSchema.parse({ http_roster_url: "http://127.0.0.1:9/%s" });
  const admin = await gatewayModule.setup(ctx, options);
  await mock.receive(
    xml(
      "message",
      { from: "localhost", to: "gateway.localhost" },
      xml("privilege", "urn:xmpp:privilege:2", ...Object.entries(perms).map(([access, type]) => xml("perm", { access, type }))),
    ),
  );
  mock.entity.emit("online", mock.entity.jid);
  await new Promise((r) => setTimeout(r, 50));
  return {
    lines: logLines(),
    admin,
    stop: async () => {
      for (const s of stops) await s();
      await http.close();
    },
  };
}

describe("the http-roster-admin gateway module", () => {
  it("warns at start when the presence permission is missing: users are then synced only on request", async () => {
    const m = await loadModule({ roster: "both" }, "Prosody");
    expect(m.lines).toContainEqual(
      expect.objectContaining({ level: 40, msg: expect.stringContaining("no XEP-0356 presence permission: users are synced only through the HTTP API") }),
    );
    await m.stop();
  });

  it("says plainly at start that privileged roster writes do not work on ejabberd, and what to set", async () => {
    const m = await loadModule({ roster: "both", presence: "roster" }, "ejabberd");
    const error = m.lines.find((l) => l.level === 50);
    expect(error).toMatchObject({ software: "ejabberd", msg: expect.stringContaining("ejabberd's XEP-0356 roster writes do not do the job") });
    expect(String(error!.fix)).toMatch(/^http_roster_writer: ejabberd_api, http_roster_ejabberd_api_url: /);
    await m.stop();
  });

  it("no warnings on Prosody with roster and presence granted", async () => {
    const m = await loadModule({ roster: "both", presence: "managed_entity" }, "Prosody");
    expect(m.lines.filter((l) => (l.level as number) >= 40)).toEqual([]);
    await m.stop();
  });

  it("validates its options with Prosody's names", () => {
    expect(rosterAdminSchema.safeParse({ http_roster_url: "http://app/contacts/" }).error?.issues[0]?.message).toMatch(/must contain %s/);
    expect(rosterAdminSchema.safeParse({ http_roster_url: "http://app/%s", http_roster_urll: "x" }).success).toBe(false);
    const o = rosterAdminSchema.parse({ http_roster_url: "http://app/%s", http_roster_timeout: "2s", http_roster_login_debounce: "5m" });
    expect(o).toMatchObject({ http_roster_timeout: 2000, http_roster_login_debounce: 300_000, http_roster_retries: 2, http_roster_path: "/roster_admin" });
  });
});
