// Which XEP-0489 embed feature covers a stanza: what a component stamps, and what `<info/>` is believed in.
// https://xmpp.org/extensions/xep-0489.html
import type { Element } from "@xmppkit/core";
import type { EmbedKind } from "./info.js";

/** Which embed feature covers a stanza, if any (XEP-0489 §Embedding). */
export function embedKind(stanza: Element): EmbedKind | undefined {
  const type = stanza.attrs.type as string | undefined;
  const to = stanza.attrs.to as string | undefined;
  if (stanza.name === "presence") {
    if (type === "subscribe") return "presence-sub";
    if (type === undefined && to) return "presence-directed";
    return undefined;
  }
  // Not a message to a server itself (the XEP-0356 wrapper a component sends its server, for one).
  if (stanza.name === "message" && type !== "groupchat" && type !== "error" && to?.includes("@")) return "message";
  return undefined;
}
