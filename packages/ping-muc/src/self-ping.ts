// XEP-0410 MUC Self-Ping: ping your own occupant JID to learn whether the room still counts you in.
// https://xmpp.org/extensions/xep-0410.html
//
// Reply semantics (XEP-0410 §3, v1.1.0), the strict reading used by default:
//   result, service-unavailable, feature-not-implemented      → still joined (another client of ours answered,
//                                                               or lacks XEP-0199);
//   remote-server-not-found, remote-server-timeout, no reply   → undecided: ask again later;
//   anything else (not-acceptable, item-not-found, …)          → not joined.
// item-not-found: XEP-0410 reads it as "joined, but renamed by another client" (multi-session nick). An xmppkit
// entity sees its own renames, and Prosody answers item-not-found from the service when the room is gone;
// either way the tracked room/nick is no longer ours, so it counts as not joined.
//
// Prosody's mod_ping_muc counts every error and every timeout as "gone"; `prosodyCompat`
// reproduces that.
import { IqTimeoutError, NS_PING, StanzaError, xml, type Iq } from "@xmppkit/core";

export const NS_SELF_PING_OPTIMIZATION = "http://jabber.org/protocol/muc#self-ping-optimization";

export type Verdict = "joined" | "not-joined" | "undecided";

export type PingOutcome =
  | { kind: "result" }
  | { kind: "error"; condition: string; text?: string; by?: string }
  | { kind: "timeout"; timeoutMs: number }
  /** The ping could not be sent (the link went down). */
  | { kind: "not-sent"; message: string };

const STILL_JOINED = new Set(["service-unavailable", "feature-not-implemented"]);
const UNDECIDED = new Set(["remote-server-not-found", "remote-server-timeout"]);

/** What a self-ping's outcome says about our occupancy. */
export function classifySelfPing(outcome: PingOutcome, options: { prosodyCompat?: boolean } = {}): Verdict {
  if (outcome.kind === "result") return "joined";
  if (outcome.kind === "not-sent") return "undecided";
  if (options.prosodyCompat) return "not-joined";
  if (outcome.kind === "timeout") return "undecided";
  if (STILL_JOINED.has(outcome.condition)) return "joined";
  if (UNDECIDED.has(outcome.condition)) return "undecided";
  return "not-joined";
}

export interface SelfPingTarget {
  room: string;
  nick: string;
  /** The occupant's real JID: a component must say which of its JIDs pings; a client leaves it out. */
  from?: string | undefined;
  timeoutMs: number;
}

/** Send `<iq type="get" to="room/nick"><ping xmlns="urn:xmpp:ping"/></iq>` and report what came back. */
export async function selfPing(iq: Pick<Iq, "request">, target: SelfPingTarget): Promise<PingOutcome> {
  const request = xml("iq", { type: "get", to: `${target.room}/${target.nick}`, ...(target.from ? { from: target.from } : {}) }, xml("ping", NS_PING));
  try {
    await iq.request(request, { timeout: target.timeoutMs });
    return { kind: "result" };
  } catch (err) {
    if (IqTimeoutError.isInstance(err)) return { kind: "timeout", timeoutMs: target.timeoutMs };
    if (StanzaError.isInstance(err)) {
      return { kind: "error", condition: err.condition, ...(err.text ? { text: err.text } : {}), ...(err.by ? { by: err.by } : {}) };
    }
    return { kind: "not-sent", message: (err as Error).message };
  }
}

/** The reason text of the synthetic removal, as Prosody's mod_ping_muc words it where it has a text. */
export function ghostReason(outcome: PingOutcome, options: { prosodyCompat?: boolean } = {}): string {
  if (outcome.kind === "error" && outcome.text) return outcome.text;
  if (outcome.kind === "timeout") return "IQ stanza timed out";
  if (options.prosodyCompat || outcome.kind !== "error") return "Connection to remote server lost";
  return `MUC self-ping answered ${outcome.condition}`;
}
