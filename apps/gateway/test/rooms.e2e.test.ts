// End-to-end: the gateway sits in a moderators' room (`rooms:`), kept there by track-muc-joins and ping-muc
// (both loaded by package name), against each real server's MUC: a kick it never heard of while its link was
// down, a destroyed room, a server restart that took the non-persistent room away, and (ejabberd, presence =
// roster) users' own room presences forwarded to the gateway, which must never change its seat.
import { NS_DISCO_INFO, xml, type EventRecord } from "@xmppkit/core";
import type {} from "@xmppkit/ping-muc";
import { gatewayModule as trackMucJoins } from "@xmppkit/track-muc-joins/gateway";
import { destroyRoom, enterRoom, kickOccupant, loginClient, startServer, type TestClient, type XmppServer } from "@xmppkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type Gateway } from "../src/gateway.js";
import { behaviourOf } from "./compatibility.js";
import { captureLogger, SERVERS, testConfig, waitFor } from "./helpers.js";

const TOKEN = "e2e-rooms-token-0123456789abcdef";

describe.each(SERVERS)("the gateway's own rooms, against a real $id MUC", (server) => {
  const { kind } = server;
  const behaviour = behaviourOf(server.id);
  let prosody: XmppServer;
  let gateway: Gateway;
  let bob: TestClient;
  let room: string;
  const events: EventRecord[] = [];
  const log = captureLogger();

  const bobEnters = async (client: TestClient) => (await enterRoom(client, room, "bob")).occupants;
  const deskEnters = (client: TestClient, timeoutMs = 15_000) =>
    client.next((el) => el.is("presence") && !el.attrs.type && el.attrs.from === `${room}/abuse-desk`, timeoutMs);

  beforeAll(async () => {
    prosody = await startServer(server);
    room = `mods@${prosody.muc}`;
    bob = await loginClient(prosody, "bob");
    await bobEnters(bob);
    const { config, sourceMap } = testConfig(
      prosody,
      `modules_enabled: [track-muc-joins, ping-muc]
track-muc-joins:
  rooms:
    - room: ${room}
      nick: abuse-desk
ping-muc:
  ping_muc_delay: 0.5
  ping_muc_jitter: 0
`,
      { token: TOKEN },
    );
    const entered = deskEnters(bob);
    gateway = await startGateway(config, { sourceMap, logger: log.logger });
    gateway.events.onAny((e) => events.push(e));
    await entered;
  });

  afterAll(async () => {
    await gateway?.stop();
    await bob?.stop();
    await prosody?.stop();
  });

  it("joins the configured room on start, from the component's domain", async () => {
    const joins = gateway.module(trackMucJoins)!;
    await waitFor(() => joins.isJoined(room), "the gateway's join to be confirmed");
    expect(joins.rooms(prosody.component.domain)).toEqual(new Map([[room, "abuse-desk"]]));
    expect(joins.kept()).toEqual([{ room, nick: "abuse-desk", from: prosody.component.domain }]);
  });

  it("a user's own room presences (ejabberd forwards them with presence = roster) never change the gateway's seat", async () => {
    const joins = gateway.module(trackMucJoins)!;
    const carol = await loginClient(prosody, "alice", { resource: "roomie" });
    try {
      await enterRoom(carol, room, "alice"); // 110 for alice, forwarded to the component on ejabberd
      await enterRoom(carol, `other-${kind}@${prosody.muc}`, "alice"); // 110 + 201: a room alice created
      await carol.xmpp.send(xml("presence", { to: `${room}/alice2` })); // a nick change (303, then 110)
      // Processed, not guessed: the room has answered the nick change (it broadcast it to the gateway's seat
      // before carol's own copy), then a round trip from carol to the gateway (behind every presence of hers
      // the server forwards to the component).
      await carol.next((el) => el.is("presence") && el.attrs.from === `${room}/alice2` && !el.attrs.type);
      await carol.request(xml("iq", { type: "get", to: prosody.component.domain }, xml("query", NS_DISCO_INFO)));
      expect(joins.jids()).toEqual([prosody.component.domain]);
      expect(joins.entries().map((e) => [e.room, e.nick, e.state])).toEqual([[room, "abuse-desk", "joined"]]);
      expect(log.lines().some((l) => String(l.msg).startsWith("ejabberd grants presence = roster"))).toBe(behaviour.forwardsUserRoomPresence);
    } finally {
      await carol.stop();
    }
  });

  it("a kick while the link was down: after reconnect and ping_muc_delay the self-ping finds the ghost, and the gateway rejoins", async () => {
    await gateway.kit.lifecycle.stop();
    await kickOccupant(bob, room, "abuse-desk", "while you were away");
    await bob.next((el) => el.is("presence") && el.attrs.type === "unavailable" && el.attrs.from === `${room}/abuse-desk`);

    const back = deskEnters(bob);
    await gateway.kit.lifecycle.start();
    await back;
    const ghost = events.find((e) => e.type === "muc-ghost-detected");
    expect(ghost?.payload).toMatchObject({
      jid: prosody.component.domain,
      room,
      nick: "abuse-desk",
      trigger: "link-restored",
      outcome: { kind: "error", condition: behaviour.ghostCondition },
    });
    expect(events.find((e) => e.type === "muc-left")?.payload).toMatchObject({ room, reason: { kind: "error", codes: ["110", "333"] } });
    const metrics = await (await fetch(`${gateway.http.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(metrics).toMatch(/ping_muc_ghosts_total\S* 1/);
    expect(log.lines().some((l) => l.msg === "the room no longer counts us in")).toBe(true);
  });

  it("a room that is gone (destroyed while the link was down) is re-created by the rejoin", async () => {
    await gateway.kit.lifecycle.stop();
    await destroyRoom(bob, room, { reason: "gone" });
    const before = events.length;
    await gateway.kit.lifecycle.start();
    const rejoined = await waitFor(() => events.slice(before).find((e) => e.type === "muc-joined"), "the rejoin", 15_000);
    expect(rejoined.payload).toMatchObject({ room, nick: "abuse-desk", created: true });
    // Prosody answers a ping to a room that does not exist from the service, with item-not-found.
    expect(events.slice(before).find((e) => e.type === "muc-ghost-detected")?.payload).toMatchObject({
      outcome: { kind: "error", condition: "item-not-found" },
    });
    // muc-joined comes with the self-presence, a moment before the gateway's instant-room form unlocks the new
    // room; until then Prosody refuses others with item-not-found. Bob tries until it is unlocked.
    const occupants = await waitFor(
      () => bobEnters(bob).catch((err: { condition?: string }) => (err.condition === "item-not-found" ? undefined : Promise.reject(err))),
      "the re-created room to be unlocked",
      15_000,
    );
    expect(occupants).toContain("abuse-desk"); // unlocked: the gateway accepted the instant room
  });

  it("a server restart: the gateway reconnects, checks the room, and is in it", async () => {
    const before = events.length;
    await prosody.restart();
    await waitFor(() => events.slice(before).find((e) => e.type === "link-up"), "the reconnect", 20_000);
    const verdict = await waitFor(() => events.slice(before).find((e) => e.type === "muc-self-ping"), "the self-ping after the restart", 15_000);
    expect(verdict.payload).toMatchObject({ room, trigger: "link-restored" });
    const bob2 = await loginClient(prosody, "bob", { resource: "after-restart" });
    try {
      await waitFor(() => gateway.module(trackMucJoins)!.isJoined(room), "the gateway in the room", 15_000);
      expect(await bobEnters(bob2)).toContain("abuse-desk");
    } finally {
      await bob2.stop();
    }
  });

  it("on shutdown the gateway leaves its rooms", async () => {
    const bob3 = await loginClient(prosody, "bob", { resource: "shutdown" });
    await bobEnters(bob3);
    const left = bob3.next((el) => el.is("presence") && el.attrs.type === "unavailable" && el.attrs.from === `${room}/abuse-desk`);
    await gateway.stop();
    expect((await left).getChildText("status")).toBe("gateway shutting down");
    await bob3.stop();
  });

  it("a shutdown while the server goes away never reconnects, and does not wait for rooms that cannot answer", async () => {
    const { config, sourceMap } = testConfig(
      prosody,
      `modules_enabled: [track-muc-joins]\ntrack-muc-joins:\n  rooms:\n    - room: ${room}\n      nick: abuse-desk\n`,
    );
    const own = captureLogger();
    const g = await startGateway(config, { sourceMap, logger: own.logger });
    await waitFor(() => g.module(trackMucJoins)!.isJoined(room), "the gateway in the room");
    // SIGTERM to Prosody and to the gateway at the same moment.
    await Promise.all([prosody.stop(), g.stop()]);
    const msgs = own.lines().map((l) => String(l.msg));
    const after = msgs.slice(msgs.indexOf("shutting down"));
    expect(after.filter((m) => m.startsWith("reconnecting"))).toEqual([]);
    expect(after.at(-1)).toBe("stopped");
    expect(g.kit.lifecycle.online).toBe(false);
  });
});
