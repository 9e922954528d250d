// XEP-0356 Privileged Entity: what is done with the grants — roster get/set of a user, a message sent on the
// server's or a user's behalf, an IQ as a user. https://xmpp.org/extensions/xep-0356.html
//
// Each checks the grant first (a PermissionError says what is missing), and replies in the namespace the
// server used.
import { PermissionError, StanzaError } from "./errors.js";
import type { Iq, IqRequestOptions } from "./iq.js";
import type { RosterItem } from "./privilege.js";
import { NS_PRIVILEGE_2, hasPermission, type PrivilegeGrants } from "./privilege-grants.js";
import { randomId } from "./random-id.js";
import type { Stanzas } from "./stanzas.js";
import { NS_FORWARD, domainOf, firstChildElement, isBareJid, parseJid, xml, type Element } from "./xml.js";

export const NS_ROSTER = "jabber:iq:roster";

/** The account whose (empty) roster `verify()` asks for. */
export const GRANT_CHECK_USER = "xmppkit-grant-check";

export function parseRosterItems(query: Element | undefined): RosterItem[] {
  if (!query) return [];
  return query.getChildren("item").map((item) => {
    const r: RosterItem = { jid: item.attrs.jid, groups: item.getChildren("group").map((g) => g.getText()) };
    if (item.attrs.name) r.name = item.attrs.name;
    if (item.attrs.subscription) r.subscription = item.attrs.subscription;
    if (item.attrs.ask) r.ask = item.attrs.ask;
    return r;
  });
}

export function rosterItemElement(item: RosterItem): Element {
  return xml(
    "item",
    {
      jid: item.jid,
      ...(item.name ? { name: item.name } : {}),
      ...(item.subscription ? { subscription: item.subscription } : {}),
    },
    ...item.groups.map((g) => xml("group", {}, g)),
  );
}

function checkUser(user: string): string {
  const j = parseJid(user);
  if (!j?.local || j.resource) throw new TypeError(`not a user's bare JID: ${user}`);
  return j.toString();
}

/** The privileged requests, each checked against `grants` (and watched for a `forbidden` that revokes them). */
export class PrivilegedRequests {
  readonly #grants: PrivilegeGrants;
  readonly #iq: Iq;
  readonly #stanzas: Stanzas;

  constructor({ grants, iq, stanzas }: { grants: PrivilegeGrants; iq: Iq; stanzas: Stanzas }) {
    this.#grants = grants;
    this.#iq = iq;
    this.#stanzas = stanzas;
  }

  async rosterGet(user: string, opts?: IqRequestOptions): Promise<RosterItem[]> {
    const bare = checkUser(user);
    const server = domainOf(bare)!;
    this.#grants.require({ access: "roster", type: "get" }, server);
    const query = await this.#grants.watched(server, this.#iq.get(xml("query", NS_ROSTER), bare, opts));
    return parseRosterItems(query);
  }

  /** One privileged roster set per item (Prosody answers each item separately). */
  async rosterSet(user: string, items: RosterItem[], opts?: IqRequestOptions): Promise<void> {
    const bare = checkUser(user);
    const server = domainOf(bare)!;
    this.#grants.require({ access: "roster", type: "set" }, server);
    const sets = items.map((item) => this.#iq.set(xml("query", NS_ROSTER, rosterItemElement(item)), bare, opts));
    await this.#grants.watched(server, Promise.all(sets));
  }

  /** Whether `server` still honours the roster grant; undefined when there is nothing to check or no answer. */
  async verify(server?: string, opts?: IqRequestOptions): Promise<boolean | undefined> {
    const s = this.#grants.pick(server);
    if (!s || !hasPermission(this.#grants.servers.get(s), { access: "roster", type: "get" })) return undefined;
    try {
      await this.rosterGet(`${GRANT_CHECK_USER}@${s}`, opts);
      return true;
    } catch (err) {
      return StanzaError.isInstance(err) && err.condition === "forbidden" ? false : undefined;
    }
  }

  async sendMessage(message: Element): Promise<void> {
    const from = message.attrs.from as string | undefined;
    if (!from || !isBareJid(from)) {
      throw new TypeError(`a privileged message needs a bare-JID \`from\` on the server (got ${from ?? "none"})`);
    }
    const server = domainOf(from)!;
    const perms = this.#grants.require({ access: "message", type: "outgoing" }, server);
    message.attrs.xmlns = "jabber:client";
    await this.#stanzas.send(xml("message", { to: server }, xml("privilege", perms.namespace, xml("forwarded", NS_FORWARD, message))));
  }

  /** XEP-0356 v0.4: send an IQ as the local user `user` (bare JID); resolves with the inner reply. */
  async sendIq(user: string, inner: Element, opts?: IqRequestOptions): Promise<Element> {
    const bare = checkUser(user);
    const payload = firstChildElement(inner);
    const type = inner.attrs.type as "get" | "set";
    if (!payload?.attrs.xmlns || (type !== "get" && type !== "set")) {
      throw new TypeError("a privileged IQ needs type get or set and one payload child with an xmlns");
    }
    const perms = this.#grants.require({ access: "iq", namespace: payload.attrs.xmlns, type }, domainOf(bare)!);
    if (perms.namespace !== NS_PRIVILEGE_2) {
      throw new PermissionError(
        `the server speaks ${perms.namespace}, which has no IQ permission`,
        "iq",
        "upgrade the server (Prosody mod_privilege ≥ 2022-05, ejabberd ≥ 24.10)",
      );
    }
    inner.attrs.xmlns = "jabber:client";
    inner.attrs.id ??= randomId();
    delete inner.attrs.from;
    const reply = await this.#iq.request(xml("iq", { type, to: bare }, xml("privileged_iq", NS_PRIVILEGE_2, inner)), opts);
    const forwarded = reply.getChild("privilege", NS_PRIVILEGE_2)?.getChild("forwarded", NS_FORWARD);
    const innerReply = forwarded?.getChild("iq");
    if (!innerReply) throw new StanzaError("undefined-condition", "cancel", "privileged IQ reply without a forwarded <iq/>");
    if (innerReply.attrs.type === "error") throw StanzaError.fromStanza(innerReply);
    return innerReply;
  }
}
