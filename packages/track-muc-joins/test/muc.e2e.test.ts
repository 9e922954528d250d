// End-to-end against a real Prosody MUC: a bot (@xmpp/client) and a component JID (@xmpp/component) are
// tracked through joins, a nick change, a refused join, a kick, a leave and a destroyed room; bob, a plain
// client, owns the rooms and does the kicking.
import { client } from "@xmpp/client";
import { component } from "@xmpp/component";
import { setupKit, xml, type Element, type Kit, type XmppEntity } from "@xmppkit/core";
import { closeClient, destroyRoom, enterRoom, kickOccupant, loginClient, startProsody, type Prosody, type TestClient, suiteServers } from "@xmppkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MucJoinError } from "../src/join-room.js";
import { setupMucJoins, type MucJoins, type MucJoinsEvents } from "../src/muc-joins.js";

describe.each(suiteServers(["prosody"]))("$id", ({ root }) => {
  describe("track-muc-joins against Prosody's MUC", () => {
    let prosody: Prosody;
    let bob: TestClient;
    let kit: Kit;
    let xmpp: XmppEntity | undefined;
    let joins: MucJoins;
    let muc: string;
    const events: { type: string; payload: unknown }[] = [];

    beforeAll(async () => {
      prosody = await startProsody({ root, users: { bob: "bobpw", bot: "botpw" } });
      muc = prosody.muc!;
      bob = await loginClient(prosody, "bob");
      xmpp = client({
        service: prosody.c2s.service,
        domain: prosody.domain,
        username: "bot",
        password: "botpw",
        resource: "e2e",
      }) as unknown as XmppEntity;
      kit = setupKit(xmpp);
      joins = setupMucJoins(kit, { joinTimeout: 5000 });
      for (const type of ["joined", "nick-changed", "left", "join-failed", "rename-failed"] as const) {
        joins.on(type, (payload: MucJoinsEvents[typeof type]) => events.push({ type, payload }));
      }
      await kit.lifecycle.start();
    });

    afterAll(async () => {
      joins?.stop();
      await closeClient(xmpp, () => kit.lifecycle.stop()); // kit's stop, then no late data on a dropped parser
      await bob?.stop();
      await prosody?.stop();
    });

    const BOT = () => kit.entity.jid!.toString();

    it("a join is tracked with the nick the room confirmed; a refused join (nick taken) rejects and leaves nothing", async () => {
      const room = `lobby@${muc}`;
      await enterRoom(bob, room, "bob");
      const joined = await joins.join(room, { nick: "bot" });
      expect(joined).toMatchObject({ room, nick: "bot", created: false, nickAssigned: false });
      expect(joins.rooms()).toEqual(new Map([[room, "bot"]]));
      expect(joins.roomsJoined()).toEqual({ [room]: "bot" });

      const err = await joins.join(room, { nick: "bob" }).catch((e: unknown) => e);
      // Already in the room as "bot": asking for "bob" is a rename, which the room refuses (conflict).
      expect(err).toBeInstanceOf(MucJoinError);
      expect((err as MucJoinError).condition).toBe("conflict");
      expect(joins.nick(room)).toBe("bot");
      expect(events.at(-1)).toMatchObject({ type: "rename-failed", payload: { room, nick: "bot", requestedNick: "bob", condition: "conflict" } });

      await enterRoom(bob, `busy@${muc}`, "bob");
      const refused = await joins.join(`busy@${muc}`, { nick: "bob" }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(MucJoinError);
      expect(refused).toMatchObject({ condition: "conflict", room: `busy@${muc}` });
      expect(events.at(-1)).toMatchObject({ type: "join-failed", payload: { room: `busy@${muc}`, nick: "bob", condition: "conflict" } });
      expect([...joins.rooms().keys()]).toEqual([room]);
    });

    it("a nick change goes through 303 without the room ever disappearing, and ends on the new nick", async () => {
      const room = `lobby@${muc}`;
      const seen: (string | undefined)[] = [];
      const off = kit.stanzas.onIncoming(() => void seen.push(joins.nick(room)));
      await kit.stanzas.send(xml("presence", { to: `${room}/robot` }));
      const changed = await joins.next("nick-changed", 5000);
      off();
      expect(changed).toEqual({ jid: BOT(), room, from: "bot", to: "robot", nickAssigned: false });
      expect(seen).not.toContain(undefined);
      expect(joins.nick(room)).toBe("robot");
    });

    it("a kick by the owner is a removal with its reason", async () => {
      const room = `lobby@${muc}`;
      const left = joins.next("left", 5000);
      await kickOccupant(bob, room, "robot", "too chatty");
      expect(await left).toMatchObject({ jid: BOT(), room, nick: "robot", reason: { kind: "kicked", reason: "too chatty" } });
      expect((await left).reason.codes).toEqual(expect.arrayContaining(["110", "307"]));
      expect(joins.isJoined(room)).toBe(false);
    });

    it("leave() is confirmed by the room", async () => {
      const room = `lobby@${muc}`;
      await joins.join(room, { nick: "bot" });
      await expect(joins.leave(room, { status: "bye" })).resolves.toMatchObject({ kind: "left" });
      expect(joins.isJoined(room)).toBe(false);
    });

    it("a destroyed room ends the occupancy, with the reason and the new address", async () => {
      const room = `doomed@${muc}`;
      await enterRoom(bob, room, "bob");
      await joins.join(room, { nick: "bot" });
      const left = joins.next("left", 5000);
      await destroyRoom(bob, room, { reason: "moving", alternate: `lobby@${muc}` });
      expect(await left).toMatchObject({ room, nick: "bot", reason: { kind: "destroyed", reason: "moving", alternate: `lobby@${muc}` } });
      expect(joins.isJoined(room)).toBe(false);
    });

    it("a room the bot creates is unlocked (instant room) so others can enter", async () => {
      const room = `fresh@${muc}`;
      const joined = await joins.join(room, { nick: "bot" });
      expect(joined).toMatchObject({ created: true, locked: false });
      await enterRoom(bob, room, "bob"); // would fail with item-not-found while the room is locked
      await joins.leave(room);
    });
  });
});

describe.each(suiteServers(["prosody"]))("$id", ({ root }) => {
  describe("track-muc-joins for a component's JIDs against Prosody's MUC", () => {
    let prosody: Prosody;
    let bob: TestClient;
    let kit: Kit;
    let xmpp: XmppEntity | undefined;
    let joins: MucJoins;

    beforeAll(async () => {
      prosody = await startProsody({ root, users: { bob: "bobpw" } });
      bob = await loginClient(prosody, "bob");
      xmpp = component({
        service: prosody.component.service,
        domain: prosody.component.domain,
        password: prosody.component.secret,
      }) as unknown as XmppEntity;
      kit = setupKit(xmpp, { serverDomain: prosody.domain });
      joins = setupMucJoins(kit, { joinTimeout: 5000 });
      await kit.lifecycle.start();
    });

    afterAll(async () => {
      joins?.stop();
      await closeClient(xmpp, () => kit.lifecycle.stop()); // kit's stop, then no late data on a dropped parser
      await bob?.stop();
      await prosody?.stop();
    });

    it("two JIDs of the component are tracked apart; a kick of one leaves the other", async () => {
      const room = `bridge@${prosody.muc}`;
      const puppet = `alice@${prosody.component.domain}/matrix`;
      await enterRoom(bob, room, "bob");
      await joins.join(room, { nick: "alice (matrix)", from: puppet });
      await joins.join(room, { nick: "bridge-bot", from: prosody.component.domain });
      await bob.next((el: Element) => el.is("presence") && el.attrs.from === `${room}/alice (matrix)`);
      await bob.next((el: Element) => el.is("presence") && el.attrs.from === `${room}/bridge-bot`);
      expect(joins.rooms(puppet)).toEqual(new Map([[room, "alice (matrix)"]]));
      expect(joins.rooms()).toEqual(new Map([[room, "bridge-bot"]]));

      const left = joins.next("left", 5000);
      await kickOccupant(bob, room, "alice (matrix)", "spam");
      expect(await left).toMatchObject({ jid: puppet, room, reason: { kind: "kicked", reason: "spam" } });
      expect(joins.rooms(puppet).size).toBe(0);
      expect(joins.rooms()).toEqual(new Map([[room, "bridge-bot"]]));
    });
  });
});
