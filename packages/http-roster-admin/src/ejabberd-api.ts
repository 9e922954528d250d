// Rosters through ejabberd's own admin API (mod_http_api + mod_admin_extra), for ejabberd servers whose
// XEP-0356 roster set does not work (23.01: "Module failed to handle the query", ejabberd #3942) or ignores
// subscription="both". The API pushes changes to online clients and keeps `both`, which the privileged
// path never does on ejabberd. https://docs.ejabberd.im/developer/ejabberd-api/admin-api/
//
//   get_roster {user, server}          → one row per (contact, group): merged here into one item per contact
//   add_rosteritem {localuser, localhost, user, host, nick, group: "A;B", subs}   → 0
//   delete_rosteritem {localuser, localserver, user, server}                    → 0
//   check_account {user, host}         → 0 exists, 1 does not: add_rosteritem says 0 for a missing account too
import { parseJid, type RosterItem } from "@xmppkit/core";
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

export class EjabberdApiError extends Error {
  override name = "EjabberdApiError";
}

interface RosterRow {
  jid: string;
  nick: string;
  subscription: string;
  ask: string;
  group: string;
}

/** get_roster's rows, one per (contact, group), as one roster item per contact. */
export function mergeRosterRows(rows: RosterRow[]): RosterItem[] {
  const items = new Map<string, RosterItem>();
  for (const row of rows) {
    let item = items.get(row.jid);
    if (!item) {
      item = { jid: row.jid, groups: [], ...(row.subscription ? { subscription: row.subscription as RosterItem["subscription"] } : {}) };
      if (row.nick) item.name = row.nick;
      items.set(row.jid, item);
    }
    if (row.group && !item.groups.includes(row.group)) item.groups.push(row.group);
  }
  return [...items.values()];
}

export function ejabberdApiRoster(options: EjabberdApiOptions): RosterAccess & { call(command: string, args: Record<string, unknown>): Promise<unknown> } {
  const timeout = options.timeout ?? 10_000;
  const base = options.url.replace(/\/+$/, "");
  const auth = options.user ? `Basic ${Buffer.from(`${options.user}:${options.password ?? ""}`).toString("base64")}` : undefined;
  const known = new Map<string, number>(); // accounts found to exist, with when

  async function call(command: string, args: Record<string, unknown>): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${base}/${command}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(auth ? { authorization: auth } : {}) },
        body: JSON.stringify(args),
        signal: AbortSignal.timeout(timeout),
      });
    } catch (err) {
      throw new EjabberdApiError(`ejabberd API ${command}: ${(err as Error).message}`);
    }
    const text = await res.text();
    if (!res.ok) throw new EjabberdApiError(`ejabberd API ${command}: HTTP ${res.status} ${text.slice(0, 200)}`);
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
      const r = await call("add_rosteritem", {
        localuser: local(user),
        localhost: options.domain,
        user: contact.local,
        host: contact.host,
        nick: item.name ?? "",
        group: item.groups.join(";"),
        subs: item.subscription ?? "both",
      });
      if (r !== 0) throw new EjabberdApiError(`ejabberd API add_rosteritem ${item.jid}: ${JSON.stringify(r)}`);
    },
  };
}
