// Where the rosters live. A component edits any local user's roster through XEP-0356 (`roster` permission);
// a client bot edits its own roster with plain RFC 6121 roster sets.
// https://xmpp.org/extensions/xep-0356.html#roster  https://www.rfc-editor.org/rfc/rfc6121#section-2
import {
  ROSTER_BATCH_MAX,
  rosterBatchElement,
  rosterBatchOutcomes,
  rosterReplaceElement,
  rosterReplaceResult,
  rosterVersion,
  rosterVersionElement,
  type RosterEdit,
  type RosterReplaceResult,
} from "./roster-batch.js";
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
   * ejabberd ignores it, and no server takes it from a client. The privileged path finds out from the
   * server: after its first set of a subscription it reads that contact back once.
   */
  honoursSubscription: boolean;
  /** For `own`: the connected client's username. */
  readonly self?: string | undefined;
  get(user: string): Promise<RosterItem[]>;
  set(user: string, item: RosterItem, change: RosterChange): Promise<void>;
  /**
   * Edits one `setMany` call may carry; 0 or absent: one `set` per edit. The privileged path turns this on
   * when the server advertises the roster batch feature (Prosody with mod_xmppkit_roster_batch).
   */
  batchSize?: number;
  /** Apply several edits of one user's roster in one request: per edit, undefined when applied or the error. */
  setMany?(user: string, edits: readonly RosterEdit[]): Promise<(Error | undefined)[]>;
  /**
   * Make `items` the user's whole roster in one request (the server compares), when `batchSize` > 0;
   * undefined when the server cannot after all (then get, diff and set).
   */
  replace?(user: string, items: readonly RosterItem[]): Promise<RosterReplaceResult | undefined>;
  /**
   * The roster's version on the server, which every change of the roster changes (the roster batch module's):
   * undefined when the server gives none. With it and `setIfVersion` a sync that knows what it last applied
   * sends nothing when nothing changed, and only the difference when something did.
   */
  version?(user: string): Promise<string | undefined>;
  /** Apply `edits` in one request only while the roster is at `ver`: "conflict" when it is not any more. */
  setIfVersion?(user: string, edits: readonly RosterEdit[], ver: string): Promise<RosterReplaceResult | "conflict">;
}

export interface PrivilegedRosterOptions {
  server: string | undefined;
  /** Told once what the server did with the first subscription set (read back from the roster). */
  onSubscriptionChecked?: (p: { user: string; jid: string; sent: string; stored: string | undefined; honoured: boolean }) => void;
  iqTimeout?: number;
  /** Edits per batch set once the server advertises the roster batch feature (default 250; 0: never batch). */
  batchSize?: number;
}

/**
 * Any local user's roster, through the XEP-0356 roster permission of `server`. With `iq`, and once
 * `useBatch()` found the server's roster batch feature (`supportsRosterBatch`), a user's edits go in one set.
 */
export function privilegedRoster({ privilege, iq }: { privilege: Privilege; iq?: Iq }, options: PrivilegedRosterOptions): RosterAccess & RosterBatching {
  const { server, iqTimeout } = options;
  const opts: IqRequestOptions = iqTimeout ? { timeout: iqTimeout } : {};
  const wanted = options.batchSize ?? 250;
  let subscriptionChecked = false;
  let versioned = true;
  /** Whether the server kept the subscription we sent: the contact as the server now has it. */
  async function checkSubscription(user: string, item: RosterItem) {
    subscriptionChecked = true;
    try {
      const stored = (await privilege.rosterGet(user, opts)).find((i) => i.jid === item.jid)?.subscription;
      access.honoursSubscription = stored === item.subscription;
      options.onSubscriptionChecked?.({ user, jid: item.jid, sent: item.subscription!, stored, honoured: access.honoursSubscription });
    } catch {
      subscriptionChecked = false; // ask again at the next set
    }
  }
  const access: RosterAccess & RosterBatching = {
    kind: "privileged",
    get domain() {
      return server ?? privilege.permissions()?.server;
    },
    honoursSubscription: true,
    batchSize: 0,
    useBatch(on) {
      access.batchSize = on && iq ? Math.min(wanted, ROSTER_BATCH_MAX) : 0;
      versioned = true; // found again: ask the module (perhaps updated) for versions again
    },
    get: (user) => privilege.rosterGet(user, opts),
    async set(user, item, change) {
      try {
        await privilege.rosterSet(user, [item], opts);
      } catch (err) {
        // Already gone (removed by the user, or by a concurrent sync): the removal is done.
        if (change === "remove" && StanzaError.isInstance(err) && err.condition === "item-not-found") return;
        throw err;
      }
      // Read back once, beside the sync (which goes on): the next diff knows what the server keeps.
      // A new contact only: an existing one may already have the subscription sent, whatever the server does.
      if (!subscriptionChecked && change === "add" && item.subscription && item.subscription !== "none") void checkSubscription(user, item);
    },
    async replace(user, items) {
      if (!iq || !access.batchSize || items.length > ROSTER_BATCH_MAX) return undefined;
      try {
        return rosterReplaceResult(await iq.set(rosterReplaceElement(items), user, opts));
      } catch (err) {
        if (!StanzaError.isInstance(err) || !FALL_BACK.has(err.condition)) throw err;
        if (err.condition !== "forbidden" && err.condition !== "policy-violation") access.useBatch(false);
        return undefined;
      }
    },
    async version(user) {
      if (!iq || !access.batchSize || !versioned) return undefined;
      try {
        return rosterVersion(await iq.get(rosterVersionElement(), user, opts));
      } catch (err) {
        // A module from before versions: it does not answer gets (the server does, with an error).
        if (!StanzaError.isInstance(err) || !NO_VERSIONS.has(err.condition)) throw err;
        versioned = false;
        return undefined;
      }
    },
    async setIfVersion(user, edits, ver) {
      if (!iq) return "conflict"; // no version was given without one: replace
      try {
        return rosterReplaceResult(await iq.set(rosterBatchElement(edits, { ifVer: ver }), user, opts));
      } catch (err) {
        if (StanzaError.isInstance(err) && err.condition === "conflict") return "conflict";
        throw err;
      }
    },
    async setMany(user, edits) {
      const perItem = () => Promise.all(edits.map(({ item, change }) => access.set(user, item, change).then(noError, (err: Error) => err)));
      if (!iq || !access.batchSize) return perItem();
      try {
        return rosterBatchOutcomes(edits, await iq.set(rosterBatchElement(edits), user, opts));
      } catch (err) {
        if (!StanzaError.isInstance(err) || !FALL_BACK.has(err.condition)) return edits.map(() => err as Error);
        // The module went away (or the grant did: per-item sets let the privilege layer notice the revocation).
        if (err.condition !== "forbidden") access.useBatch(false);
        return perItem();
      }
    },
  };
  return access;
}

export interface RosterBatching {
  /** Turn batch sets on (the server advertises the feature) or off. */
  useBatch(on: boolean): void;
}

/** Whole-set errors after which the edits are sent again one per set. */
const FALL_BACK = new Set(["service-unavailable", "feature-not-implemented", "forbidden", "policy-violation"]);
const noError = () => undefined;
/** Errors to a version get from a roster batch module without versions. */
const NO_VERSIONS = new Set(["service-unavailable", "feature-not-implemented", "bad-request"]);

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
