// Who is online on the server, learnt from the broadcast presence a server forwards to a privileged entity
// (XEP-0356 `presence` permission, `managed_entity` or `roster`). https://xmpp.org/extensions/xep-0356.html#presence
//
// Prosody forwards every broadcast presence of a local user (initial, each change, unavailable) from the
// user's full JID, and on (re)connect replays the current presence of every online session with a <delay/>.
// ejabberd forwards the presence a user sends to its own bare JID, replays nothing, and forwards no
// `unavailable` when a client just closes its stream: a session it saw end that way stays "online" here, and a
// returning user shows only as a `presence` event. Remote contacts' presence (with `presence = "roster"`)
// comes from other domains and is not a session of ours: ignored here.
//
// What no server forwards: directed presence (MUC joins), subscription requests, probes.
import { TypedEmitter, extend, type ListenerErrorHandler } from "./emitter.js";
import type { Lifecycle } from "./lifecycle.js";
import type { Privilege } from "./privilege.js";
import type { Stanzas } from "./stanzas.js";
import { parseJid } from "./xml.js";

export const NS_DELAY = "urn:xmpp:delay";

export interface SessionEvents extends Record<string, unknown> {
  /** A resource sent available presence for the first time (`replayed`: part of the server's replay on connect). */
  available: { jid: string; user: string; resource: string; replayed: boolean };
  /** A resource went unavailable. */
  unavailable: { jid: string; user: string; resource: string };
  /** A user's first resource came online. */
  "user-online": { user: string; resource: string; replayed: boolean };
  /** A user's last resource went offline. */
  "user-offline": { user: string };
  /**
   * Any available presence of a local user the server forwarded, new session or not: ejabberd forwards no
   * `unavailable` when a client just closes its stream and replays nothing on connect, so a user who comes
   * back is seen only as "a presence again" (act on it with a debounce).
   */
  presence: { jid: string; user: string; resource: string; replayed: boolean };
}

export interface Sessions extends TypedEmitter<SessionEvents> {
  /** Bare JIDs of users with at least one available resource. */
  users(): string[];
  /** Available resources of `user` (bare JID). */
  resources(user: string): string[];
  isOnline(user: string): boolean;
  /** Number of available resources over all users. */
  readonly size: number;
}

/**
 * Track local users' sessions from forwarded presence. Only presence from a domain that granted the entity a
 * presence permission counts, so a contact's presence never looks like a local session.
 *
 * After a reconnect the state is kept: the server's replay re-announces resources that are still online
 * (no new events for those); resources that went away while the link was down are not noticed until they
 * come back (ejabberd does not replay, so there is nothing to sweep against).
 */
export function setupSessions({
  stanzas,
  privilege,
  lifecycle,
  onListenerError,
}: {
  stanzas: Stanzas;
  privilege: Privilege;
  lifecycle?: Lifecycle;
  onListenerError?: ListenerErrorHandler;
}): Sessions {
  const emitter = new TypedEmitter<SessionEvents>(onListenerError);
  const online = new Map<string, Set<string>>();
  let size = 0;

  const granted = (domain: string) => privilege.has({ access: "presence", type: "managed_entity" }, domain);

  stanzas.onIncoming((stanza) => {
    if (stanza.name !== "presence") return;
    const type = stanza.attrs.type as string | undefined;
    if (type !== undefined && type !== "unavailable") return;
    const from = parseJid(stanza.attrs.from as string | undefined);
    if (!from?.local || !from.resource || !granted(from.domain)) return;
    const user = from.bare().toString();
    const resource = from.resource;
    const jid = from.toString();
    let set = online.get(user);
    if (type === "unavailable") {
      if (!set?.delete(resource)) return;
      size--;
      emitter.emit("unavailable", { jid, user, resource });
      if (set.size === 0) {
        online.delete(user);
        emitter.emit("user-offline", { user });
      }
      return;
    }
    const replayed = stanza.getChild("delay", NS_DELAY) !== undefined;
    emitter.emit("presence", { jid, user, resource, replayed });
    if (set?.has(resource)) return; // a presence change of a known session
    const first = !set;
    if (!set) {
      set = new Set();
      online.set(user, set);
    }
    set.add(resource);
    size++;
    emitter.emit("available", { jid, user, resource, replayed });
    if (first) emitter.emit("user-online", { user, resource, replayed });
  });

  lifecycle?.on("offline", () => {
    online.clear();
    size = 0;
  });

  return extend(emitter, {
    users: () => [...online.keys()],
    resources: (user: string) => [...(online.get(parseJid(user)?.bare().toString() ?? user) ?? [])],
    isOnline: (user: string) => online.has(parseJid(user)?.bare().toString() ?? user),
    get size() {
      return size;
    },
  }) as Sessions;
}
