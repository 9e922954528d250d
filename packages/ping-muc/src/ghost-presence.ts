// The presence that tells the application it is no longer in a room: what Prosody's mod_ping_muc sends the
// client, delivered to the entity's own incoming pipeline so that its handlers and
// track-muc-joins see the occupant leave like any removal by the room.
//
// Status 333 (XEP-0045 §15.2 "removed because of an error reply / technical problem"). The seed's README says
// 330, which is not a registered code; its code sends 333.
import { randomId, xml, type Element } from "@xmppkit/core";
import { NS_MUC_USER } from "@xmppkit/track-muc-joins";

export function ghostPresence({ jid, room, nick, reason }: { jid: string; room: string; nick: string; reason: string }): Element {
  return xml(
    "presence",
    { type: "unavailable", id: randomId(), from: `${room}/${nick}`, to: jid },
    xml(
      "x",
      NS_MUC_USER,
      xml("item", { affiliation: "none", role: "none" }, xml("reason", {}, reason)),
      xml("status", { code: "110" }),
      xml("status", { code: "333" }),
    ),
  );
}
