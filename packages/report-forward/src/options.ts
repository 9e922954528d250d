// Gateway options, under Prosody's names where Prosody has one (`report_forward_to`,
// `report_forward_to_origin`, `report_forward_contact_lookup_timeout`, …); the rest share its prefix.
import { parseJid } from "@xmppkit/core";
import { duration, z, moduleOptions } from "@xmppkit/runtime";
import { checkTemplate } from "./body-template.js";

const jid = z.string().refine((v) => !!parseJid(v), { message: "not a JID" });
const template = z.string().superRefine((v, ctx) => {
  const problem = checkTemplate(v);
  if (problem) ctx.addIssue({ code: "custom", message: `the template ${problem}` });
});

export const reportForwardSchema = z.strictObject({
  /** Who may hand reports over as messages (a server running mod_report_forward). Default: the server domain. */
  report_forward_sources: z.array(jid).optional(),
  /** The operator's moderators: user JIDs and MUC rooms. Every accepted report, with the reporter's JID. */
  report_forward_to_staff: z.array(jid).default([]),
  /**
   * Staff MUC rooms, known to be rooms without a disco of their service (needed where the server drops a
   * component's IQs to bare JIDs: ejabberd 24.10–24.12 with mod_privilege); they get what staff gets. A room
   * in report_forward_to_staff is found by a disco instead.
   */
  report_forward_staff_rooms: z.array(jid).default([]),
  /** The gateway's nick in staff rooms. */
  report_forward_staff_nick: z.string().min(1).default("abuse-desk"),
  /** Prosody's option: third parties. Only reports carrying <third-party/> (unless require_opt_in is false). */
  report_forward_to: z.array(jid).default([]),
  /** Prosody's option: also tell the reported JID's server (only reports carrying <report-origin/>). */
  report_forward_to_origin: z.boolean().default(true),
  /** Prosody's option: no published address (or a failed lookup) → send to the bare domain. */
  report_forward_to_origin_fallback: z.boolean().default(true),
  /** false: forward every report to third parties and the origin, as Prosody's module does (XEP-0377 < 0.4). */
  report_forward_require_opt_in: z.boolean().default(true),
  /** Prosody's option: how long the XEP-0157 disco#info may take. */
  report_forward_contact_lookup_timeout: duration().prefault(180),
  /** Prosody's option (unused there): how many domains' addresses are cached. */
  report_forward_contact_cache_size: z.number().int().min(1).default(256),
  /** How long a looked-up address is reused. */
  report_forward_contact_cache_ttl: duration().prefault(3600),
  /** Prosody's option: the body for origin servers and third parties ({reported_jid}, {reported_message_time}). */
  report_forward_body_template: template.optional(),
  /** The body for staff (adds {reporter_jid}, {reason}, {text}, {reported_message_body}, {opt_ins}). */
  report_forward_staff_body_template: template.optional(),
  /** Send as the server domain through XEP-0356 (message permission) instead of the gateway's own domain. */
  report_forward_as_server: z.boolean().default(false),
  /** The same report again within this time is not forwarded again (0: off). */
  report_forward_dedupe_window: duration().prefault(3600),
  /** Reports one reporter (or one reporting session) sends on to third parties, and to the origin, per window (0: unlimited). Staff get all. */
  report_forward_reporter_limit: z.number().int().min(0).default(10),
  /** Reports about one JID sent on to third parties, and to the origin, per window (0: unlimited). */
  report_forward_reported_limit: z.number().int().min(0).default(30),
  /** Reports about one JID whose reporters nobody named, sent on per window (0: unlimited). */
  report_forward_unattributed_limit: z.number().int().min(0).default(3),
  /** No longer used (it was one budget for every user of a server); accepted so that an older config loads. */
  report_forward_source_limit: z.number().int().min(0).optional(),
  report_forward_limit_window: duration().prefault(3600),
  /** Reports of one burst (one reporter's, or about one JID) sent to staff one by one; the rest come as one digest (0: never). */
  report_forward_digest_after: z.number().int().min(0).default(3),
  /** How far back a burst is counted. */
  report_forward_digest_window: duration().prefault(600),
  /** How long a burst's report waits for the others before the digest goes. */
  report_forward_digest_delay: duration().prefault(30),
  /** An accepted report not delivered everywhere after this long is given up (and logged). */
  report_forward_max_age: duration().prefault(7 * 86400),
  /** Serve `POST {path}` for web moderation tools (the gateway's bearer token). */
  report_forward_http: z.boolean().default(true),
  report_forward_http_path: z
    .string()
    .regex(/^\/[A-Za-z0-9._~\-/]*$/, "must be a path starting with /")
    .default("/reports"),
});

export const reportForwardOptions = moduleOptions(reportForwardSchema);

export type ReportForwardGatewayOptions = z.output<typeof reportForwardSchema>;
