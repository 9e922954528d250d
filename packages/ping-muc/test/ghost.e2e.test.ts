// End-to-end against a real Prosody MUC: the ghost scenario for a bot. The kick presence is lost (the test
// drops it before anything sees it), so the bot still believes it is in the room. Its next message to the room
// bounces; after ping_muc_delay the self-ping answers not-acceptable; the bot's own handlers get the 110+333
// removal; and the bot rejoins, as bob — the room's owner — sees in his occupant list.
import { client } from "@xmpp/client";
import { setupKit, xml, type Element, type Kit, type XmppEntity } from "@xmppkit/core";
import { closeClient, enterRoom, kickOccupant, loginClient, startProsody, type Prosody, type TestClient, suiteServers } from "@xmppkit/testing";
import { NS_MUC_USER, setupMucJoins, type MucJoins } from "@xmppkit/track-muc-joins";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setupPingMuc, type PingMuc, type SelfPingResult } from "../src/ping-muc.js";

describe.each(suiteServers(["prosody"]))("$id", ({ root }) => {
  describe("ping-muc: a bot that became a ghost finds out and comes back (real Prosody)", () => {
    let prosody: Prosody;
    let bob: TestClient;
    let kit: Kit;
    let xmpp: XmppEntity | undefined;
    let joins: MucJoins;
    let ping: PingMuc;
    let room: string;
    let dropKick = false;
    let dropped = 0;
    const appSaw: Element[] = [];
    const pings: SelfPingResult[] = [];

    beforeAll(async () => {
      prosody = await startProsody({ root, users: { bob: "bobpw", bot: "botpw" } });
      room = `mods@${prosody.muc}`;
      bob = await loginClient(prosody, "bob");
      await enterRoom(bob, room, "bob");

      xmpp = client({
        service: prosody.c2s.service,
        domain: prosody.domain,
        username: "bot",
        password: "botpw",
        resource: "e2e",
      }) as unknown as XmppEntity;
      kit = setupKit(xmpp);
      // The lost kick: swallowed before track-muc-joins or the application can see it.
      kit.stanzas.onIncoming((s) => {
        if (!(dropKick && s.name === "presence" && s.attrs.type === "unavailable" && s.attrs.from === `${room}/bot`)) return undefined;
        dropped++;
        return true;
      });
      joins = setupMucJoins(kit, { joinTimeout: 5000 });
      ping = setupPingMuc({ ...kit, joins }, { delay: 300, jitter: 0, timeout: 5000 });
      ping.on("self-ping", (r) => pings.push(r));
      xmpp.on("stanza", (s: Element) => appSaw.push(s));
      await kit.lifecycle.start();
      await joins.join(room, { nick: "bot" });
    });

    afterAll(async () => {
      ping?.stop();
      joins?.stop();
      await closeClient(xmpp, () => kit.lifecycle.stop()); // kit's stop, then no late data on a dropped parser
      await bob?.stop();
      await prosody?.stop();
    });

    it("a self-ping while joined says joined (Prosody answers for the occupant: muc#self-ping-optimization)", async () => {
      const r = await ping.check(room);
      expect(r).toMatchObject({ verdict: "joined", outcome: { kind: "result" }, stale: false });
    });

    it("kicked without knowing it: a bounced message triggers the self-ping, the 110+333 removal reaches the bot, and it rejoins", async () => {
      dropKick = true;
      await kickOccupant(bob, room, "bot", "lost kick");
      await bob.next((el) => el.is("presence") && el.attrs.type === "unavailable" && el.attrs.from === `${room}/bot`);
      await expect.poll(() => dropped, { timeout: 5000 }).toBe(1);
      expect(joins.isJoined(room)).toBe(true); // the ghost: the bot still believes it is in
      dropKick = false;
      appSaw.length = 0; // xmpp.js's own "stanza" listeners saw the kick; what follows is what matters
      const ghost = ping.next("ghost", 10_000);
      const rejoined = bob.next((el) => el.is("presence") && !el.attrs.type && el.attrs.from === `${room}/bot`, 15_000);
      await kit.stanzas.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, "anyone?")));

      const g = await ghost;
      expect(g).toMatchObject({ room, nick: "bot", trigger: "room-error", outcome: { kind: "error", condition: "not-acceptable" } });
      expect(pings.at(-1)).toMatchObject({ verdict: "not-joined", stale: false });

      const removal = appSaw.find((s) => s.name === "presence" && s.attrs.type === "unavailable" && s.attrs.from === `${room}/bot`)!;
      expect(removal).toBeDefined();
      const codes = removal
        .getChild("x", NS_MUC_USER)!
        .getChildren("status")
        .map((s) => s.attrs.code);
      expect(codes).toEqual(["110", "333"]);
      expect(removal.getChild("x", NS_MUC_USER)!.getChild("item")!.getChildText("reason")).toBe(g.reason);

      await rejoined; // bob sees the bot enter again
      await expect.poll(() => joins.isJoined(room), { timeout: 5000 }).toBe(true);
      expect((await ping.check(room)).verdict).toBe("joined");
    });
  });
});
