// MUC moves of a plain test client (the room owner, the second client that looks at the occupant list), for
// end-to-end tests against Prosody's MUC. https://xmpp.org/extensions/xep-0045.html
import { createElement as xml, type Element } from "@xmpp/xml";
import type { TestClient } from "./clients.js";

const NS_MUC = "http://jabber.org/protocol/muc";
const NS_MUC_USER = "http://jabber.org/protocol/muc#user";
const NS_MUC_OWNER = "http://jabber.org/protocol/muc#owner";
const NS_MUC_ADMIN = "http://jabber.org/protocol/muc#admin";

export interface EnteredRoom {
  /** The client's own presence from the room (status 110). */
  self: Element;
  /** Nicks of the occupants that were there when the client entered. */
  occupants: string[];
  /** The client created the room (201) and accepted it as an instant room. */
  created: boolean;
}

/** `client` enters `room` as `nick`; a room it creates is accepted as an instant room (unlocked for others). */
export async function enterRoom(client: TestClient, room: string, nick: string, timeoutMs = 5000): Promise<EnteredRoom> {
  const before = new Set(client.received);
  await client.xmpp.send(xml("presence", { to: `${room}/${nick}` }, xml("x", { xmlns: NS_MUC })));
  const self = await client.next((el) => el.is("presence") && el.attrs.from === `${room}/${nick}` && (!el.attrs.type || el.attrs.type === "error"), timeoutMs);
  if (self.attrs.type === "error") {
    // Say why at once (a locked or missing room, a nick conflict) instead of waiting out the timeout.
    const condition = self.getChild("error")?.children.find((c): c is Element => typeof c !== "string" && c.name !== "text")?.name ?? "undefined-condition";
    throw Object.assign(new Error(`${room} refused ${nick}: ${condition}`), { condition });
  }
  const created = !!self.getChild("x", NS_MUC_USER)?.getChildByAttr("code", "201");
  if (created) {
    await client.request(xml("iq", { type: "set", to: room }, xml("query", { xmlns: NS_MUC_OWNER }, xml("x", { xmlns: "jabber:x:data", type: "submit" }))));
  }
  const occupants = client.received
    .filter((el) => !before.has(el) && el.is("presence") && !el.attrs.type && String(el.attrs.from).startsWith(`${room}/`))
    .map((el) => String(el.attrs.from).slice(room.length + 1));
  return { self, occupants, created };
}

/** A moderator kicks `nick` out of `room` (role none), with a reason. */
export function kickOccupant(client: TestClient, room: string, nick: string, reason: string): Promise<Element> {
  return client.request(
    xml("iq", { type: "set", to: room }, xml("query", { xmlns: NS_MUC_ADMIN }, xml("item", { nick, role: "none" }, xml("reason", {}, reason)))),
  );
}

/** The owner destroys `room`, optionally naming where it moved. */
export function destroyRoom(client: TestClient, room: string, options: { reason?: string; alternate?: string } = {}): Promise<Element> {
  const destroy = xml("destroy", options.alternate ? { jid: options.alternate } : {}, ...(options.reason ? [xml("reason", {}, options.reason)] : []));
  return client.request(xml("iq", { type: "set", to: room }, xml("query", { xmlns: NS_MUC_OWNER }, destroy)));
}
