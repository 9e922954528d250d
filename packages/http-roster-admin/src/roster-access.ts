// Where the rosters live. A component edits any local user's roster through XEP-0356 (`roster` permission);
// a client bot edits its own roster with plain RFC 6121 roster sets.
// https://xmpp.org/extensions/xep-0356.html#roster  https://www.rfc-editor.org/rfc/rfc6121#section-2
import {
  NS_ROSTER,
  StanzaError,
  normalizeJid,
  parseRosterItems,
  rosterItemElement,
  xml,
  type Iq,
  type IqRequestOptions,
  type Privilege,
  type RosterItem,
  type Stanzas,
  type XmppEntity,
} from "@xmppkit/core";

export type RosterChange = "add" | "change" | "remove";

export interface RosterAccess {
  /** `privileged`: any local user's roster (components); `own`: the connected client's own roster. */
  readonly kind: "privileged" | "own";
  /** The domain whose users' rosters this reaches. */
  readonly domain: string | undefined;
  /**
   * Whether the server keeps `subscription="both"` from a roster set. Prosody does for privileged sets;
   * ejabberd ignores it, and no server takes it from a client.
   */
  honoursSubscription: boolean;
  /** For `own`: the connected client's username. */
  readonly self?: string | undefined;
  get(user: string): Promise<RosterItem[]>;
  set(user: string, item: RosterItem, change: RosterChange): Promise<void>;
}

/** Any local user's roster, through the XEP-0356 roster permission of `server`. */
export function privilegedRoster(
  { privilege }: { privilege: Privilege },
  { server, iqTimeout }: { server: string | undefined; iqTimeout?: number },
): RosterAccess {
  const opts: IqRequestOptions = iqTimeout ? { timeout: iqTimeout } : {};
  return {
    kind: "privileged",
    get domain() {
      return server ?? privilege.permissions()?.server;
    },
    honoursSubscription: true,
    get: (user) => privilege.rosterGet(user, opts),
    async set(user, item, change) {
      try {
        await privilege.rosterSet(user, [item], opts);
      } catch (err) {
        // Already gone (removed by the user, or by a concurrent sync): the removal is done.
        if (change === "remove" && StanzaError.isInstance(err) && err.condition === "item-not-found") return;
        throw err;
      }
    },
  };
}

/** ejabberd stores privileged roster items with subscription "none" whatever the set said (modules-spec §12.5). */
export function ignoresPrivilegedSubscription(software: string | undefined): boolean {
  return /ejabberd/i.test(software ?? "");
}

/**
 * The client's own roster. Subscriptions cannot be set by a client: with `subscribe` (default true) a new
 * contact gets a subscription request and a pre-approval (RFC 6121 §3.4), so it becomes mutual once the
 * contact accepts. Roster pushes from the server are answered with a result.
 */
export function ownRoster(
  { entity, iq, stanzas }: { entity: XmppEntity; iq: Iq; stanzas: Stanzas },
  { subscribe = true }: { subscribe?: boolean } = {},
): RosterAccess {
  const self = () => entity.jid?.bare().toString();
  // Answer the server's roster pushes (RFC 6121 §2.1.6): xmpp.js would answer service-unavailable. A push
  // comes from our own bare JID or has no `from`; anything else falls through to service-unavailable.
  // An application that registers its own jabber:iq:roster set handler on the entity replaces this one.
  iq.handle("set", NS_ROSTER, "query", ({ from }) => (!from || normalizeJid(from) === self() ? true : undefined));
  const check = (user: string) => {
    if (user !== self()) throw new TypeError(`a client can only sync its own roster (${self() ?? "not online"}), not ${user}`);
  };
  return {
    kind: "own",
    get domain() {
      return entity.jid?.domain ?? entity.options.domain;
    },
    honoursSubscription: false,
    get self() {
      return entity.jid?.local || undefined;
    },
    async get(user) {
      check(user);
      return parseRosterItems(await iq.get(xml("query", NS_ROSTER)));
    },
    async set(user, item, change) {
      check(user);
      const { subscription, ...rest } = item;
      const sent: RosterItem = change === "remove" ? { jid: item.jid, subscription: "remove", groups: [] } : rest;
      await iq.set(xml("query", NS_ROSTER, rosterItemElement(sent)));
      if (change === "add" && subscribe && subscription === "both") {
        await stanzas.send(xml("presence", { to: item.jid, type: "subscribed" }));
        await stanzas.send(xml("presence", { to: item.jid, type: "subscribe" }));
      }
    },
  };
}
