// Gateway options, under Prosody's names where Prosody has one (`http_roster_url`); the rest are what a real
// deployment needs and share its prefix.
import { duration, z, moduleOptions } from "@xmppkit/runtime";
import { checkRosterUrlTemplate } from "./roster-url.js";

export const rosterAdminSchema = z
  .strictObject({
    /** Prosody's option: the web app's roster URL, `%s` = URL-encoded username. */
    http_roster_url: z.string().superRefine((v, ctx) => {
      const problem = checkRosterUrlTemplate(v);
      if (problem) ctx.addIssue({ code: "custom", message: `${problem} (e.g. "http://localhost/contacts/%s")` });
    }),
    /** Per-request timeout towards the web app. */
    http_roster_timeout: duration().prefault(10),
    /** Further attempts after a timeout, connection error, 5xx or 429. */
    http_roster_retries: z.number().int().min(0).max(10).default(2),
    /** Users synced at the same time. */
    http_roster_concurrency: z.number().int().min(1).max(1024).default(32),
    /** Roster IQs in flight to the server at once, over all users. */
    http_roster_pipeline: z.number().int().min(1).max(4096).default(32),
    /** Extra headers for the web app, e.g. { Authorization: "Bearer ${WEBAPP_TOKEN}" }. */
    http_roster_headers: z.record(z.string(), z.string()).default({}),
    /** Sync a user when their first session comes online (needs the XEP-0356 presence permission). */
    http_roster_sync_on_login: z.boolean().default(true),
    /** Do not sync a user on login again within this time after a successful sync. */
    http_roster_login_debounce: duration().prefault(60),
    /** Base path of the HTTP API (Prosody: http_paths.roster_admin). */
    http_roster_path: z
      .string()
      .regex(/^\/[A-Za-z0-9._~\-/]*$/, "must be a path starting with /")
      .default("/roster_admin"),
    /** Most usernames in one refresh request (larger requests get 413). */
    http_roster_max_users: z.number().int().min(1).default(10_000),
    /**
     * How rosters are written: `privilege` (XEP-0356, portable) or `ejabberd_api` (ejabberd's admin API:
     * mod_http_api + mod_admin_extra; ejabberd 23.01's privileged roster set does not work).
     */
    http_roster_writer: z.enum(["privilege", "ejabberd_api"]).default("privilege"),
    /**
     * Many edits of a user in one privileged set, when Prosody runs the companion mod_xmppkit_roster_batch
     * (shipped in this package's prosody/ folder): `auto` uses it when the server advertises it, `false` never.
     */
    http_roster_batch: z.union([z.literal("auto"), z.boolean()]).default("auto"),
    /** Edits per batch set (the companion module takes up to 1000). */
    http_roster_batch_size: z.number().int().min(2).max(1000).default(250),
    /** ejabberd's API base URL, e.g. http://127.0.0.1:5280/api (with http_roster_writer: ejabberd_api). */
    http_roster_ejabberd_api_url: z
      .string()
      .regex(/^https?:\/\//, "an http(s):// URL")
      .optional(),
    /** An admin account for the API's HTTP Basic auth, when api_permissions asks for one. */
    http_roster_ejabberd_api_user: z.string().optional(),
    http_roster_ejabberd_api_password: z.string().optional(),
  })
  .superRefine((o, ctx) => {
    if (o.http_roster_writer === "ejabberd_api" && !o.http_roster_ejabberd_api_url) {
      ctx.addIssue({ code: "custom", path: ["http_roster_ejabberd_api_url"], message: "is required with http_roster_writer: ejabberd_api" });
    }
  });

export const rosterAdminOptions = moduleOptions(rosterAdminSchema);

export type RosterAdminGatewayOptions = z.output<typeof rosterAdminSchema>;
