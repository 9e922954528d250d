// Where affiliations come from. A component cannot read the server's account data (roles, whether an account
// exists; creation dates only from Prosody 13 with mod_xmppkit_account_info, see account-info.ts), so they
// come from the operator: config lists of admins and members, and an HTTP provider (`report_affiliations_url`)
// for the rest.
//
//   GET {report_affiliations_url with %s = username}
//   200 {"affiliation": "member", "since": "2024-11-22T10:00:00Z" | 1732269600, "trust": 80, "roles": ["prosody:member"]}
//   404 → no record: answered like any account without one (no existence oracle)
//
// Every field is optional. Roles map to affiliations through the `report_affiliations_*_roles` options, with
// a fixed precedence admin > member > registered > anonymous (Prosody's map depends on table order).
import { XmppkitError, bareJid, checkUrlTemplate, fillUrlTemplate, parseJid } from "@xmppkit/core";
import { createHttpClient, HttpClientError } from "@xmppkit/core/http-client";
import { isAffiliation, type Affiliation, type AffiliationInfo } from "./info.js";

export interface AccountRecord {
  affiliation?: Affiliation | undefined;
  since?: Date | undefined;
  trust?: number | undefined;
  roles?: string[] | undefined;
}

/** Look up one account (a bare JID); undefined when the source has no record of it. */
export type AffiliationSource = (jid: string) => Promise<AccountRecord | undefined>;

export type RoleMap = Record<Affiliation, readonly string[]>;

/** Prosody's defaults, with `prosody:guest` mapped to the XEP's `anonymous`. */
export const PROSODY_ROLES: RoleMap = {
  admin: ["prosody:admin", "prosody:operator"],
  member: ["prosody:member"],
  registered: ["prosody:user", "prosody:registered"],
  anonymous: ["prosody:guest"],
};

const PRECEDENCE: Affiliation[] = ["admin", "member", "registered", "anonymous"];

export function affiliationFromRoles(roles: readonly string[], map: RoleMap = PROSODY_ROLES): Affiliation | undefined {
  return PRECEDENCE.find((a) => roles.some((r) => map[a].includes(r)));
}

export class AffiliationSourceError extends XmppkitError {
  static override readonly brand = "AffiliationSourceError";
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Config lists: `report_affiliations_admins`, `report_affiliations_members` (bare JIDs). */
export function staticSource({ admins = [], members = [] }: { admins?: string[]; members?: string[] }): AffiliationSource {
  const norm = (list: string[]) => new Set(list.map((j) => bareJid(j) ?? j));
  const a = norm(admins);
  const m = norm(members);
  return async (jid) => (a.has(jid) ? { affiliation: "admin" } : m.has(jid) ? { affiliation: "member" } : undefined);
}

/** The first source with a record wins. */
export function chainSources(...sources: AffiliationSource[]): AffiliationSource {
  return async (jid) => {
    for (const s of sources) {
      const r = await s(jid);
      if (r) return r;
    }
    return undefined;
  };
}

/** Validate what an HTTP provider answered. */
export function parseAccountRecord(body: unknown): AccountRecord {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new AffiliationSourceError('expected a JSON object like {"affiliation": "registered", "since": "2024-11-22T00:00:00Z"}');
  const b = body as Record<string, unknown>;
  const record: AccountRecord = {};
  if (b.affiliation !== undefined && b.affiliation !== null) {
    if (!isAffiliation(b.affiliation))
      throw new AffiliationSourceError(`affiliation must be anonymous, registered, member or admin (got ${JSON.stringify(b.affiliation)})`);
    record.affiliation = b.affiliation;
  }
  if (b.since !== undefined && b.since !== null) {
    const d = typeof b.since === "number" ? new Date(b.since * 1000) : typeof b.since === "string" ? new Date(b.since) : new Date(NaN);
    if (Number.isNaN(d.getTime())) throw new AffiliationSourceError(`since must be an ISO 8601 date or Unix seconds (got ${JSON.stringify(b.since)})`);
    record.since = d;
  }
  if (b.trust !== undefined && b.trust !== null) {
    if (typeof b.trust !== "number" || !Number.isInteger(b.trust) || b.trust < 0 || b.trust > 100)
      throw new AffiliationSourceError(`trust must be an integer 0–100 (got ${JSON.stringify(b.trust)})`);
    record.trust = b.trust;
  }
  if (b.roles !== undefined && b.roles !== null) {
    if (!Array.isArray(b.roles) || !b.roles.every((r) => typeof r === "string")) throw new AffiliationSourceError("roles must be an array of strings");
    record.roles = b.roles as string[];
  }
  return record;
}

export interface HttpSourceOptions {
  /** `report_affiliations_url`: `%s` is the URL-encoded username (the JID's local part). */
  url: string;
  /** ms (default 5 s). */
  timeout?: number;
  headers?: Record<string, string>;
}

/** The largest account record read (a record is a few hundred bytes). */
const MAX_RECORD_BYTES = 64 * 1024;

export function httpSource(options: HttpSourceOptions): AffiliationSource {
  const problem = checkUrlTemplate(options.url);
  if (problem) throw new TypeError(`report_affiliations_url ${problem}`);
  const http = createHttpClient();
  const headers = { accept: "application/json", ...options.headers };
  return async (jid) => {
    const local = parseJid(jid)?.local;
    if (!local) return undefined;
    const url = fillUrlTemplate(options.url, local);
    let res: { status: number; text: string };
    try {
      res = await http.request(url, { headers, timeout: options.timeout ?? 5000, maxBodyBytes: MAX_RECORD_BYTES });
    } catch (err) {
      throw new AffiliationSourceError(`${url}: ${HttpClientError.isInstance(err) && err.reason === "timeout" ? "timed out" : (err as Error).message}`);
    }
    if (res.status === 404) return undefined;
    if (res.status < 200 || res.status > 299) throw new AffiliationSourceError(`${url}: HTTP ${res.status}`);
    let body: unknown;
    try {
      body = JSON.parse(res.text);
    } catch {
      throw new AffiliationSourceError(`${url}: the answer is not JSON`);
    }
    try {
      return parseAccountRecord(body);
    } catch (err) {
      throw new AffiliationSourceError(`${url}: ${(err as Error).message}`);
    }
  };
}

export interface ResolveOptions {
  roles?: RoleMap;
  /** `trust` when the source gives none (Prosody: 50). */
  defaultTrust?: number;
  /** Every account is anonymous (Prosody: `authentication = "anonymous"`). */
  anonymousHost?: boolean;
}

/**
 * The `<info/>` for a record. No record and a record without affiliation or mapped role are both
 * `registered`, so the answer never tells whether an account exists. As the seed and XEP-0489: `since` and
 * `trust` go with `registered` and `anonymous` only.
 */
export function resolveInfo(record: AccountRecord | undefined, options: ResolveOptions = {}): AffiliationInfo {
  const affiliation: Affiliation = options.anonymousHost
    ? "anonymous"
    : (record?.affiliation ?? (record?.roles ? affiliationFromRoles(record.roles, options.roles) : undefined) ?? "registered");
  if (affiliation === "admin" || affiliation === "member") return { affiliation };
  return { affiliation, ...(record?.since ? { since: record.since } : {}), trust: record?.trust ?? options.defaultTrust ?? 50 };
}
