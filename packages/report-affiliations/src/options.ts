// Gateway options, under Prosody's names (`report_affiliations_trusted_servers`, `…_admin_roles`, …); the
// rest share its prefix.
import { checkUrlTemplate, parseJid } from "@xmppkit/core";
import { duration, z, moduleOptions } from "@xmppkit/runtime";
import { AFFILIATIONS } from "./info.js";
import { PROSODY_ROLES } from "./affiliation-source.js";

const jid = z.string().refine((v) => !!parseJid(v), { message: "not a JID" });
const server = z.string().refine(
  (v) => {
    const j = parseJid(v);
    return !!j && !j.local && !j.resource;
  },
  { message: "a server domain (no @, no /)" },
);
const roles = (d: readonly string[]) => z.array(z.string()).default([...d]);

/**
 * Prosody's module reads `report_affiliations_registered` and `report_affiliations_anonymous`; its README
 * says `…_registered_roles` and `…_anonymous_roles`. A copied Prosody config may hold either: both load.
 */
const ALIASES: Record<string, string> = {
  report_affiliations_registered_roles: "report_affiliations_registered",
  report_affiliations_anonymous_roles: "report_affiliations_anonymous",
};

function unalias(raw: unknown): unknown {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return raw;
  const out: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  for (const [alias, name] of Object.entries(ALIASES)) {
    if (!(alias in out)) continue;
    if (name in out) continue; // both given: the strict schema names the alias as unknown
    out[name] = out[alias];
    delete out[alias];
  }
  return out;
}

export const reportAffiliationsSchema = z.preprocess(
  unalias,
  z.strictObject({
    /** Prosody's option: servers that may query, and whose <info/> is believed. */
    report_affiliations_trusted_servers: z.array(server).default([]),
    /** Accounts reported as admin / member (bare JIDs). */
    report_affiliations_admins: z.array(jid).default([]),
    report_affiliations_members: z.array(jid).default([]),
    /** Prosody's options: which roles from a provider map to which affiliation. */
    report_affiliations_admin_roles: roles(PROSODY_ROLES.admin),
    report_affiliations_member_roles: roles(PROSODY_ROLES.member),
    report_affiliations_registered: roles(PROSODY_ROLES.registered),
    report_affiliations_anonymous: roles(PROSODY_ROLES.anonymous),
    /** An HTTP provider: `%s` is the username; JSON {affiliation, since, trust, roles}; 404 = no record. */
    report_affiliations_url: z
      .string()
      .superRefine((v, ctx) => {
        const problem = checkUrlTemplate(v);
        if (problem) ctx.addIssue({ code: "custom", message: `${problem} (e.g. "http://localhost/accounts/%s")` });
      })
      .optional(),
    report_affiliations_url_timeout: duration().prefault(5),
    report_affiliations_url_headers: z.record(z.string(), z.string()).default({}),
    /**
     * since from the server's account creation times where it advertises them (Prosody 13 with
     * mod_xmppkit_account_info): auto uses them when there; true also warns when they are not; false never asks.
     */
    report_affiliations_account_info: z.union([z.literal("auto"), z.boolean()]).default("auto"),
    /** How long a creation time is reused, and how long a query waits for one before answering without since. */
    report_affiliations_account_info_ttl: duration().prefault(3600),
    report_affiliations_account_info_timeout: duration().prefault(2),
    /** trust for registered and anonymous accounts the provider gives none for (Prosody: always 50). */
    report_affiliations_default_trust: z.number().int().min(0).max(100).default(50),
    /** The host only has anonymous accounts (Prosody: authentication = "anonymous"). */
    report_affiliations_anonymous_host: z.boolean().default(false),
    /** Which of the gateway's own stanzas carry <info/>. */
    report_affiliations_stamp: z.array(z.enum(["presence-sub", "presence-directed", "message"])).default(["presence-sub", "presence-directed"]),
    /** The gateway's own affiliation in what it stamps and answers about itself. */
    report_affiliations_self: z.enum(AFFILIATIONS).default("member"),
  }),
);

export const reportAffiliationsOptions = moduleOptions(reportAffiliationsSchema);

export type ReportAffiliationsGatewayOptions = z.output<typeof reportAffiliationsSchema>;
