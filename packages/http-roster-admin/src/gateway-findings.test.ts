// The gateway says the server checks' findings in its option names (the checks are server-adaptation.ts's).
import { EventBus, setupKit, xml, type ModuleContext, type XmppEntity } from "@xmppkit/core";
import { createHttpServer, createMetrics, openSqliteStore } from "@xmppkit/runtime";
import { captureLogger, mockComponent, waitFor } from "@xmppkit/testing";
import { describe, expect, it, vi } from "vitest";
import { gatewayModule } from "./gateway-module.js";
import { rosterAdminSchema } from "./options.js";
import { NS_ROSTER_BATCH } from "./roster-batch.js";

/** vi.waitFor with room for a busy machine (its default gives up after 1 s). */
const eventually = <T>(fn: () => T | Promise<T>) => vi.waitFor(fn, { timeout: 30_000, interval: 20 });

const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";

/** The module on a component whose server is `serverName` with `features`, after one connect; its log lines. */
async function connected(serverName: string, features: string[], options: Record<string, unknown>) {
  const mock = await mockComponent<XmppEntity>();
  const { logger, lines } = captureLogger();
  const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
  const http = createHttpServer({ listen: "127.0.0.1:0" });
  const stops: (() => unknown)[] = [];
  const ctx: ModuleContext = {
    name: gatewayModule.name,
    kit,
    log: logger,
    events: new EventBus().forModule(gatewayModule.name),
    metrics: createMetrics(),
    http,
    store: await openSqliteStore(":memory:"),
    module: () => {
      throw new Error("none");
    },
    optionalModule: () => undefined,
    onStop: (fn) => void stops.push(fn),
  };
  mock.replyToIq(
    (iq) => iq.attrs.to === "localhost" && !!iq.getChild("query", NS_DISCO_INFO),
    xml("query", NS_DISCO_INFO, xml("identity", { category: "server", type: "im", name: serverName }), ...features.map((f) => xml("feature", { var: f }))),
  );
  await gatewayModule.setup(ctx, rosterAdminSchema.parse({ http_roster_url: "http://127.0.0.1:9/%s", ...options }));
  mock.entity.emit("online", mock.entity.jid);
  await eventually(() => expect(mock.sent.filter((s) => !!s.getChild("query", NS_DISCO_INFO)).length).toBeGreaterThan(0));
  await waitFor(() => lines().some((l) => l.level >= 30), "the finding to be logged");
  for (const s of stops) await s();
  await http.close();
  return lines().filter((l) => l.level >= 30);
}

describe("the gateway's words for the server checks", () => {
  it("says when the server batches roster sets, with the configured batch size", async () => {
    const lines = await connected("Prosody", [NS_ROSTER_BATCH], { http_roster_batch_size: 77 });
    expect(lines).toEqual([
      expect.objectContaining({
        level: 30,
        server: "localhost",
        batchSize: 77,
        msg: "the server batches roster sets (mod_xmppkit_roster_batch): one set per user",
      }),
    ]);
  });

  it("names http_roster_batch when it is true and the server does not batch", async () => {
    const lines = await connected("Prosody", [], { http_roster_batch: true });
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        msg: "http_roster_batch is true but the server does not advertise mod_xmppkit_roster_batch: one roster set per contact",
      }),
    ]);
  });

  it("names http_roster_writer when ejabberd's API is configured for another server", async () => {
    const lines = await connected("Prosody", [], { http_roster_writer: "ejabberd_api", http_roster_ejabberd_api_url: "http://127.0.0.1:9/api" });
    expect(lines).toEqual([expect.objectContaining({ level: 40, software: "Prosody", msg: "http_roster_writer is ejabberd_api but the server is Prosody" })]);
  });
});
