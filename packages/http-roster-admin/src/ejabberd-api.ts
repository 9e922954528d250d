// Rosters through ejabberd's own admin API (mod_http_api + mod_admin_extra), for ejabberd servers whose
// XEP-0356 roster set does not work (23.01: "Module failed to handle the query", ejabberd #3942) or ignores
// subscription="both". The API pushes changes to online clients and keeps `both`, which the privileged
// path never does on ejabberd. https://docs.ejabberd.im/developer/ejabberd-api/admin-api/
//
// Two shapes, told apart by the server's own answers (nothing to configure):
//   get_roster {user, server}
//     23.01:  one row per (contact, group), {jid, nick, subscription, ask, group}: merged into one item per contact
//     24.12:  one row per contact, {jid, nick, subscription, pending, groups: [..]}
//   add_rosteritem {localuser, localhost, user, host, nick, subs, ...}   → 0
//     23.01:  group: "A;B" (split at ";")
//     24.12:  groups: ["A", "B"] (API v1; `group` is refused: HTTP 400 "Request have unknown arguments: [group]";
//             the v0 form keeps "A;B" as one group named "A;B"). Tried first; a 400 naming the argument
//             switches to 23.01's form for good.
//   delete_rosteritem {localuser, localserver, user, server}           → 0
//   check_account {user, host}         → 0 exists, 1 does not: add_rosteritem says 0 for a missing account too
import { XmppkitError, parseJid, type RosterItem } from "@xmppkit/core";
import { createHttpClient } from "@xmppkit/core/http-client";
import type { RosterAccess } from "./roster-access.js";

export interface EjabberdApiOptions {
  /** The API's base URL, e.g. `http://127.0.0.1:5280/api`. */
  url: string;
  /** The server (host) whose users' rosters are written. */
  domain: string;
  /** HTTP Basic credentials of an admin account, when api_permissions asks for them (not needed from loopback). */
  user?: string | undefined;
  password?: string | undefined;
  /** Per-call timeout in ms (default 10 s). */
  timeout?: number;
}

export class EjabberdApiError extends XmppkitError {
  static override readonly brand = "EjabberdApiError";
  constructor(
    message: string,
    readonly status?: number,
    readonly body?: string,
  ) {
    super(message);
  }
}

/** The largest answer read from the API (a get_roster of a very large roster fits). */
const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

/** ejabberd refused the arguments of a command's form it does not have (a 400 naming the argument). */
const refusedArgument = (err: unknown, name: string) =>
  EjabberdApiError.isInstance(err) &&
  err.status === 400 &&
  /(unknown|missing) arguments?/i.test(err.body ?? "") &&
  new RegExp(`\\b${name}\\b`).test(err.body ?? "");

/** A row of get_roster: 23.01's `group` (one row per group) or 24.12's `groups`. */
interface RosterRow {
  jid: string;
  nick: string;
  subscription: string;
  group?: string;
  groups?: string[];
}

/** get_roster's rows (one per contact, or one per contact and group) as one roster item per contact. */
export function mergeRosterRows(rows: RosterRow[]): RosterItem[] {
  const items = new Map<string, RosterItem>();
  for (const row of rows) {
    let item = items.get(row.jid);
    if (!item) {
      item = { jid: row.jid, groups: [], ...(row.subscription ? { subscription: row.subscription as RosterItem["subscription"] } : {}) };
      if (row.nick) item.name = row.nick;
      items.set(row.jid, item);
    }
    for (const group of Array.isArray(row.groups) ? row.groups : [row.group]) {
      if (typeof group === "string" && group && !item.groups.includes(group)) item.groups.push(group);
    }
  }
  return [...items.values()];
}

export function ejabberdApiRoster(options: EjabberdApiOptions): RosterAccess & { call(command: string, args: Record<string, unknown>): Promise<unknown> } {
  const timeout = options.timeout ?? 10_000;
  const base = options.url.replace(/\/+$/, "");
  const auth = options.user ? `Basic ${Buffer.from(`${options.user}:${options.password ?? ""}`).toString("base64")}` : undefined;
  const known = new Map<string, number>(); // accounts found to exist, with when
  let groupsForm: "groups" | "group" = "groups"; // add_rosteritem's argument: 24.12's list, until refused
  const http = createHttpClient();

  async function call(command: string, args: Record<string, unknown>): Promise<unknown> {
    let res: { status: number; text: string };
    try {
      // A POST: a redirect is never followed (the credentials stay with the API's origin).
      res = await http.request(`${base}/${command}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(auth ? { authorization: auth } : {}) },
        body: JSON.stringify(args),
        timeout,
        maxBodyBytes: MAX_ANSWER_BYTES,
      });
    } catch (err) {
      throw new EjabberdApiError(`ejabberd API ${command}: ${(err as Error).message}`);
    }
    const text = res.text;
    if (res.status < 200 || res.status > 299) throw new EjabberdApiError(`ejabberd API ${command}: HTTP ${res.status} ${text.slice(0, 200)}`, res.status, text);
    return text ? (JSON.parse(text) as unknown) : undefined;
  }

  const split = (jid: string) => {
    const j = parseJid(jid);
    if (!j) throw new TypeError(`not a JID: ${jid}`);
    return { local: j.local ?? "", host: j.domain };
  };
  const local = (user: string) => split(user).local;

  async function ensureAccount(user: string) {
    const at = known.get(user);
    if (at !== undefined && Date.now() - at < 60_000) return;
    const exists = await call("check_account", { user: local(user), host: options.domain });
    if (exists !== 0) throw new EjabberdApiError(`no account ${user} on ${options.domain} (check_account said ${JSON.stringify(exists)})`);
    known.set(user, Date.now());
  }

  return {
    kind: "privileged",
    domain: options.domain,
    honoursSubscription: true,
    call,
    async get(user) {
      const rows = await call("get_roster", { user: local(user), server: options.domain });
      if (!Array.isArray(rows)) throw new EjabberdApiError(`ejabberd API get_roster: expected a list, got ${JSON.stringify(rows)?.slice(0, 100)}`);
      return mergeRosterRows(rows as RosterRow[]);
    },
    async set(user, item, change) {
      const contact = split(item.jid);
      if (change === "remove") {
        const r = await call("delete_rosteritem", { localuser: local(user), localserver: options.domain, user: contact.local, server: contact.host });
        if (r !== 0) throw new EjabberdApiError(`ejabberd API delete_rosteritem ${item.jid}: ${JSON.stringify(r)}`);
        return;
      }
      await ensureAccount(user);
      const args = {
        localuser: local(user),
        localhost: options.domain,
        user: contact.local,
        host: contact.host,
        nick: item.name ?? "",
        subs: item.subscription ?? "both",
      };
      const groups = (form: typeof groupsForm) => (form === "groups" ? { groups: item.groups } : { group: item.groups.join(";") });
      const form = groupsForm; // concurrent sets may each meet the refusal: each retries in the older form
      let r: unknown;
      try {
        r = await call("add_rosteritem", { ...args, ...groups(form) });
      } catch (err) {
        if (form !== "groups" || !refusedArgument(err, "groups?")) throw err;
        groupsForm = "group"; // ejabberd before 24.02: one string, split at ";"
        r = await call("add_rosteritem", { ...args, ...groups("group") });
      }
      if (r !== 0) throw new EjabberdApiError(`ejabberd API add_rosteritem ${item.jid}: ${JSON.stringify(r)}`);
    },
  };
}
