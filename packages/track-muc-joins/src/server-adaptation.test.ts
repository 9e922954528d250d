import { setupKit, xml, type XmppEntity } from "@xmppkit/core";
import { captureLogger, mockComponent, waitFor } from "@xmppkit/testing";
import { describe, expect, it } from "vitest";
import { setupMucJoins } from "./muc-joins.js";

const GW = "gateway.localhost";
const DISCO_INFO = "http://jabber.org/protocol/disco#info";

/** A component on a server named `software`, granted presence `grant`, set up with its kit and a logger. */
async function componentOn(software: string, grant: string) {
  const mock = await mockComponent<XmppEntity>({ domain: GW });
  const { logger, lines } = captureLogger();
  const kit = setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
  mock.replyToIq(
    (iq) => iq.attrs.to === "localhost" && !!iq.getChild("query", DISCO_INFO),
    xml("query", DISCO_INFO, xml("identity", { category: "server", type: "im", name: software })),
  );
  const joins = setupMucJoins({ ...kit, logger });
  await mock.receive(xml("message", { from: "localhost", to: GW }, xml("privilege", "urn:xmpp:privilege:2", xml("perm", { access: "presence", type: grant }))));
  mock.entity.emit("online", mock.entity.jid);
  return { joins, lines, mock };
}

describe("what the server does that concerns a component's rooms", () => {
  it("a bridge with its kit hears that ejabberd grants presence = roster, and what to grant instead", async () => {
    const { joins, lines } = await componentOn("ejabberd", "roster");
    const warning = await waitFor(() => lines().find((l) => l.level === 40), "the warning");
    expect(warning).toMatchObject({ server: "localhost", msg: expect.stringContaining("presence = roster") });
    expect(String(warning.fix)).toContain("managed_entity");
    joins.stop();
  });

  it("nothing is said for Prosody, or for ejabberd granting managed_entity", async () => {
    for (const [software, grant] of [
      ["Prosody", "roster"],
      ["ejabberd", "managed_entity"],
    ] as const) {
      const { joins, lines, mock } = await componentOn(software, grant);
      // The server was asked; its answer (already queued by the mock) is read within a few turns.
      await waitFor(() => mock.sent.find((s) => s.name === "iq" && !!s.getChild("query", DISCO_INFO)), "the disco#info query");
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      expect(lines().filter((l) => l.level >= 40)).toEqual([]);
      joins.stop();
    }
  });
});
