import { EventBus, setupKit, xml, type Element, type EventRecord } from "@xmppkit/core";
import { createHttpServer, createMetrics } from "@xmppkit/runtime";
import { fakeTime, moduleHarness } from "@xmppkit/testing";
import { afterEach, describe, expect, it, vi } from "vitest";
import { gatewayModule } from "./gateway-module.js";
import { NS_MUC, NS_MUC_USER } from "./join-tracker.js";
import { trackMucJoinsSchema } from "./options.js";
import type {} from "./events.js";

const GW = "gateway.localhost";
const ROOM = "mods@conference.localhost";
const DISCO_INFO = "http://jabber.org/protocol/disco#info";

const harness = () =>
  moduleHarness(gatewayModule, { core: { setupKit, EventBus }, runtime: { createMetrics, createHttpServer }, serverDomain: "localhost", domain: GW });

/** The room's presence about our own occupant (status 110), as the room sends it. */
const selfPresence = (nick: string, codes: string[], type?: string) =>
  xml(
    "presence",
    { from: `${ROOM}/${nick}`, to: GW, ...(type ? { type } : {}) },
    xml(
      "x",
      NS_MUC_USER,
      xml("item", { affiliation: "none", role: type ? "none" : "participant" }),
      ...["110", ...codes].map((code) => xml("status", { code })),
    ),
  );
const isJoin = (s: Element) => s.name === "presence" && s.attrs.to === `${ROOM}/desk` && !s.attrs.type && !!s.getChild("x", NS_MUC);
const isLeave = (s: Element) => s.name === "presence" && s.attrs.type === "unavailable" && s.attrs.to === `${ROOM}/desk`;
/** stop(), with the room confirming the leave the module sends on the way out. */
async function stopInRoom(h: Awaited<ReturnType<typeof harness>>) {
  const leaving = h.mock.nextSent(isLeave);
  const stopped = h.stop();
  const leave = await leaving;
  await h.mock.receive(selfPresence("desk", [], "unavailable"));
  await stopped;
  return leave;
}
const metricLine = async (metrics: { text(): Promise<string> }, kind: string) =>
  (await metrics.text()).split("\n").find((l) => l.startsWith(`xmppkit_track_muc_joins_occupancy_changes_total{kind="${kind}"}`));

afterEach(() => {
  vi.useRealTimers();
});

describe("the track-muc-joins gateway module", () => {
  it("keeps the rooms of `rooms:` joined: on online it joins each with its nick and password, from the component", async () => {
    const h = await harness();
    const joins = await h.setup(trackMucJoinsSchema.parse({ rooms: [{ room: ROOM, nick: "desk", password: "s3cret" }] }));
    expect(joins.kept()).toEqual([{ room: ROOM, nick: "desk", from: GW }]);
    const joining = h.mock.nextSent(isJoin);
    h.online();
    const join = await joining;
    expect(join.attrs.from).toBe(GW);
    expect(join.getChild("x", NS_MUC)!.getChildText("password")).toBe("s3cret");
    await h.stop();
  });

  it("muc_join_timeout and muc_rejoin_max_delay: an unanswered join fails after the timeout and is retried within the max delay", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
    const time = fakeTime(vi);
    const h = await harness();
    await h.setup(trackMucJoinsSchema.parse({ muc_join_timeout: "3s", muc_rejoin_max_delay: "1s", rooms: [{ room: ROOM, nick: "desk" }] }));
    h.online();
    await time.sleep(2900);
    expect(h.lines().some((l) => l.msg === "rejoining room failed; retrying")).toBe(false);
    await time.sleep(200);
    const failed = await h.line((l) => l.msg === "rejoining room failed; retrying");
    expect(failed).toMatchObject({ level: 40, module: "track-muc-joins", room: ROOM, nick: "desk", attempt: 1 });
    expect(failed.retryInMs).toBeLessThanOrEqual(1000);
    h.mock.clear();
    await time.sleep(1000);
    expect(h.mock.sent.filter(isJoin)).toHaveLength(1);
    vi.useRealTimers();
    await h.stop();
  });

  it("a join: occupancy_changes_total{kind=joined}, an info line, and muc-joined on the bus from track-muc-joins", async () => {
    const h = await harness();
    const joins = await h.setup(trackMucJoinsSchema.parse({ rooms: [{ room: ROOM, nick: "desk" }] }));
    const onBus = new Promise<EventRecord<"muc-joined">>((r) => h.events.on("muc-joined", r));
    h.online();
    await h.mock.nextSent(isJoin);
    await h.mock.receive(selfPresence("desk", []));
    expect(await onBus).toMatchObject({ module: "track-muc-joins", payload: { jid: GW, room: ROOM, nick: "desk", created: false } });
    expect(await h.line((l) => l.msg === "joined room")).toMatchObject({ level: 30, module: "track-muc-joins", room: ROOM, nick: "desk" });
    expect(await metricLine(h.metrics, "joined")).toMatch(/ 1$/);
    expect(joins.isJoined(ROOM)).toBe(true);
    await stopInRoom(h);
  });

  it("a kick: occupancy_changes_total{kind=kicked}, a warning, muc-left on the bus, and a rejoin of the kept room", async () => {
    const h = await harness();
    await h.setup(trackMucJoinsSchema.parse({ rooms: [{ room: ROOM, nick: "desk" }] }));
    const onBus = new Promise<EventRecord<"muc-left">>((r) => h.events.on("muc-left", r));
    h.online();
    await h.mock.nextSent(isJoin);
    await h.mock.receive(selfPresence("desk", []));
    const rejoin = h.mock.nextSent(isJoin, 5000);
    await h.mock.receive(selfPresence("desk", ["307"], "unavailable"));
    expect(await onBus).toMatchObject({ module: "track-muc-joins", payload: { room: ROOM, reason: { kind: "kicked" } } });
    expect(await h.line((l) => l.msg === "out of room: kicked")).toMatchObject({ level: 40, room: ROOM });
    expect(await metricLine(h.metrics, "kicked")).toMatch(/ 1$/);
    await rejoin;
    await h.stop();
  });

  it("warns at online when ejabberd grants presence = roster, and says what to grant instead", async () => {
    const h = await harness();
    h.mock.replyToIq(
      (iq) => iq.attrs.to === "localhost" && !!iq.getChild("query", DISCO_INFO),
      xml("query", DISCO_INFO, xml("identity", { category: "server", type: "im", name: "ejabberd" })),
    );
    await h.setup(trackMucJoinsSchema.parse({}));
    await h.mock.receive(
      xml("message", { from: "localhost", to: GW }, xml("privilege", "urn:xmpp:privilege:2", xml("perm", { access: "presence", type: "roster" }))),
    );
    h.online();
    const warning = await h.line((l) => l.level === 40 && l.module === "track-muc-joins");
    expect(warning).toMatchObject({ server: "localhost", msg: expect.stringContaining("ejabberd grants presence = roster") });
    expect(String(warning.fix)).toContain("presence: managed_entity");
    await h.stop();
  });

  it("onStop leaves every room (with a status) and detaches: later room presences change nothing", async () => {
    const h = await harness();
    const joins = await h.setup(trackMucJoinsSchema.parse({ rooms: [{ room: ROOM, nick: "desk" }] }));
    h.online();
    await h.mock.nextSent(isJoin);
    await h.mock.receive(selfPresence("desk", []));
    expect((await stopInRoom(h)).getChildText("status")).toBe("gateway shutting down");
    expect(joins.isJoined(ROOM)).toBe(false);
    await h.mock.receive(selfPresence("desk", []));
    expect(joins.isJoined(ROOM)).toBe(false);
  });
});
