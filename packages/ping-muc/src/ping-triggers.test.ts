import { NS_STANZAS, xml, type Element } from "@xmppkit/core";
import type { MucJoins, RoomJoin } from "@xmppkit/track-muc-joins";
import { describe, expect, it, vi } from "vitest";
import { roomErrorTrigger } from "./ping-triggers.js";

const GW = "gateway.localhost";
const ROOM = "room@conference.localhost";
const error = (name: string, from: string, condition: string): Element =>
  xml(name, { type: "error", from, to: GW }, xml("error", { type: "cancel" }, xml(condition, NS_STANZAS)));

function setup(state: RoomJoin["state"] | undefined = "joined") {
  const joins = { tracker: { entry: (_jid: string, room: string) => (room === ROOM && state ? ({ room, state } as RoomJoin) : undefined) } };
  const schedule = vi.fn(() => 1);
  return { onStanza: roomErrorTrigger(joins as unknown as Pick<MucJoins, "tracker">, schedule), schedule };
}

describe("roomErrorTrigger", () => {
  it("an error message from a joined room schedules a check of that room", () => {
    const { onStanza, schedule } = setup();
    onStanza(error("message", `${ROOM}/someone`, "not-acceptable"));
    expect(schedule).toHaveBeenCalledWith("room-error", { jid: GW, room: ROOM });
  });

  it("a remote-server failure checks every room of that service, from a room or from the service itself", () => {
    const { onStanza, schedule } = setup();
    onStanza(error("iq", ROOM, "remote-server-not-found"));
    onStanza(error("message", "conference.localhost", "remote-server-timeout"));
    expect(schedule.mock.calls).toEqual([
      ["room-error", { jid: GW, domain: "conference.localhost" }],
      ["room-error", { jid: GW, domain: "conference.localhost" }],
    ]);
  });

  it("ignores what says nothing about occupancy", () => {
    const { onStanza, schedule } = setup();
    onStanza(xml("message", { from: ROOM, to: GW }));
    onStanza(error("iq", ROOM, "forbidden")); // an IQ the room refused
    onStanza(error("message", "conference.localhost", "not-acceptable")); // from the service, not remote
    setup("joining").onStanza(error("presence", `${ROOM}/bot`, "conflict")); // a join error
    expect(schedule).not.toHaveBeenCalled();
  });
});
