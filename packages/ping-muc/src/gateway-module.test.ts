import { EventBus, NS_PING, NS_STANZAS, setupKit, xml, type Element, type EventRecord } from "@xmppkit/core";
import { createHttpServer, createMetrics } from "@xmppkit/runtime";
import { fakeTime, moduleHarness } from "@xmppkit/testing";
import { NS_MUC, NS_MUC_USER } from "@xmppkit/track-muc-joins";
import { gatewayModule as trackMucJoins, trackMucJoinsSchema } from "@xmppkit/track-muc-joins/gateway";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { gatewayModule } from "./gateway-module.js";
import { pingMucSchema } from "./options.js";
import type {} from "./events.js";

const GW = "gateway.localhost";
const ROOM = "mods@conference.localhost";

// Time is fake (the delay, ping timeouts); the mock's replies and xmpp.js's own turns are real.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
});
afterEach(() => {
  vi.useRealTimers();
});
const { sleep, until } = fakeTime(vi);

const isPing = (s: Element) => s.name === "iq" && s.attrs.type === "get" && !!s.getChild("ping", NS_PING) && s.attrs.to === `${ROOM}/desk`;
const isJoin = (s: Element) => s.name === "presence" && s.attrs.to === `${ROOM}/desk` && !s.attrs.type && !!s.getChild("x", NS_MUC);
const isLeave = (s: Element) => s.name === "presence" && s.attrs.type === "unavailable" && s.attrs.to === `${ROOM}/desk`;
const selfPresence = (type?: string) =>
  xml(
    "presence",
    { from: `${ROOM}/desk`, to: GW, ...(type ? { type } : {}) },
    xml("x", NS_MUC_USER, xml("item", { affiliation: "none", role: type ? "none" : "participant" }), xml("status", { code: "110" })),
  );
const errorEl = (condition: string) => xml("error", { type: "cancel" }, xml(condition, NS_STANZAS));

/** ping-muc on track-muc-joins (keeping ROOM when `keep`), online and in ROOM as "desk". */
async function inRoom(raw: Record<string, unknown>, { keep = true } = {}) {
  const h = await moduleHarness(gatewayModule, {
    core: { setupKit, EventBus },
    runtime: { createMetrics, createHttpServer },
    serverDomain: "localhost",
    domain: GW,
    modules: [{ definition: trackMucJoins, options: trackMucJoinsSchema.parse({ rooms: keep ? [{ room: ROOM, nick: "desk" }] : [] }) }],
  });
  const ping = await h.setup(pingMucSchema.parse({ ping_muc_jitter: 0, ...raw }));
  const joins = h.module(trackMucJoins);
  const joining = keep ? h.mock.nextSent(isJoin) : undefined;
  h.online();
  if (!keep) void joins.join(ROOM, { nick: "desk" });
  await (joining ?? h.mock.nextSent(isJoin));
  await h.mock.receive(selfPresence());
  expect(joins.isJoined(ROOM)).toBe(true);
  return { ...h, ping, joins };
}

/** stop(), with the room confirming the leave track-muc-joins sends on the way out (when still in it). */
async function stopInRoom(h: Awaited<ReturnType<typeof inRoom>>) {
  if (!h.joins.isJoined(ROOM)) return h.stop();
  const leaving = h.mock.nextSent(isLeave);
  const stopped = h.stop();
  await leaving;
  await h.mock.receive(selfPresence("unavailable"));
  await stopped;
}

const metric = async (h: { metrics: { text(): Promise<string> } }, name: string) =>
  (await h.metrics.text()).split("\n").filter((l) => l.startsWith(`xmppkit_ping_muc_${name}`));

describe("the ping-muc gateway module", () => {
  it("on a reconnect says so, and self-pings the rooms track-muc-joins holds after ping_muc_delay, from the gateway", async () => {
    const h = await inRoom({ ping_muc_delay: "10s" });
    h.mock.replyToIq(isPing, true);
    h.mock.clear();
    h.online(); // the link is back
    expect(h.lines().find((l) => l.msg === "link restored: self-pinging rooms after the delay")).toMatchObject({
      level: 30,
      module: "ping-muc",
      rooms: 1,
      delayMs: 10_000,
    });
    expect(h.ping.scheduled).toBe(1);
    await sleep(9_900);
    expect(h.mock.sent.filter(isPing)).toEqual([]);
    await sleep(200);
    expect(h.mock.sent.filter(isPing).map((p) => p.attrs.from)).toEqual([GW]);
    await stopInRoom(h);
  });

  it("counts each self-ping in self_pings_total by verdict and trigger, and puts it on the bus", async () => {
    const h = await inRoom({});
    h.mock.replyToIq(isPing, true);
    const onBus = new Promise<EventRecord<"muc-self-ping">>((r) => h.events.on("muc-self-ping", r));
    await h.ping.check(ROOM);
    expect(await onBus).toMatchObject({ module: "ping-muc", payload: { room: ROOM, nick: "desk", verdict: "joined", trigger: "manual" } });
    expect(await metric(h, "self_pings_total")).toEqual(['xmppkit_ping_muc_self_pings_total{verdict="joined",trigger="manual"} 1']);
    expect(h.lines().find((l) => l.msg === "self-ping")).toMatchObject({ level: 20, room: ROOM, verdict: "joined" });
    await stopInRoom(h);
  });

  it.each([
    [false, "joined", 0],
    [true, "not-joined", 1],
  ] as const)("ping_muc_prosody_compat: %s reads service-unavailable as %s", async (compat, verdict, ghosts) => {
    const h = await inRoom({ ping_muc_prosody_compat: compat });
    h.mock.replyToIq(isPing, errorEl("service-unavailable"));
    const result = await h.ping.check(ROOM);
    expect(result.verdict).toBe(verdict);
    expect(await metric(h, "ghosts_total")).toEqual([`xmppkit_ping_muc_ghosts_total ${ghosts}`]);
    await stopInRoom(h);
  });

  it.each([true, false])("a ghost: a warning, muc-ghost-detected on the bus, and a rejoin only with ping_muc_rejoin (here %s)", async (rejoin) => {
    const h = await inRoom({ ping_muc_rejoin: rejoin }, { keep: false }); // not kept: only ping-muc would rejoin it
    h.mock.replyToIq(isPing, errorEl("not-acceptable"));
    const onBus = new Promise<EventRecord<"muc-ghost-detected">>((r) => h.events.on("muc-ghost-detected", r));
    h.mock.clear();
    await h.ping.check(ROOM);
    expect(await onBus).toMatchObject({ module: "ping-muc", payload: { room: ROOM, nick: "desk" } });
    expect(h.lines().find((l) => l.msg === "the room no longer counts us in")).toMatchObject({ level: 40, module: "ping-muc", room: ROOM, rejoin });
    await sleep(100);
    expect(h.mock.sent.filter(isJoin)).toHaveLength(rejoin ? 1 : 0);
    await h.stop();
  });

  it("ping_muc_timeout: no reply within it is undecided, logged with when it asks again", async () => {
    const h = await inRoom({ ping_muc_timeout: "5s" });
    let done = false;
    void h.ping.check(ROOM).then(() => {
      done = true;
    });
    await sleep(4_900);
    expect(done).toBe(false);
    await until(() => done, 200);
    expect(h.lines().find((l) => l.msg === "self-ping undecided; asking again later")).toMatchObject({ level: 30, room: ROOM, outcome: { kind: "timeout" } });
    expect(await metric(h, "self_pings_total")).toEqual(['xmppkit_ping_muc_self_pings_total{verdict="undecided",trigger="manual"} 1']);
    await stopInRoom(h);
  });

  it("onStop stops it: the pings it scheduled are dropped and a room error schedules none", async () => {
    const h = await inRoom({});
    const roomError = xml("message", { type: "error", from: ROOM, to: GW }, errorEl("not-acceptable"));
    await h.mock.receive(roomError);
    expect(h.ping.scheduled).toBe(1);
    await stopInRoom(h);
    expect(h.ping.scheduled).toBe(0);
    await h.mock.receive(roomError);
    expect(h.ping.scheduled).toBe(0);
  });
});
