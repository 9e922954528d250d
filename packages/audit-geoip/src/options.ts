// Gateway options, under mod_audit's names where it has one (`audit_log_expires_after`, `audit_log_ips`,
// `audit_log_ipv4_prefix`, `audit_log_location`, `audit_status_heartbeat_interval`); the rest share the prefix.
import { duration, z, moduleOptions } from "@xmppkit/runtime";

/** A period, or "never" / false for no expiry (mod_audit accepts both). */
const period = () => z.union([z.literal(false), z.literal("never"), duration()]).transform((v) => (v === false || v === "never" ? null : v));

export const auditGeoipSchema = z.strictObject({
  /** mod_audit's option: events older than this are purged ("never" keeps them). */
  audit_log_expires_after: period().prefault("28d"),
  /** At most this many events are kept, the oldest purged first (false: no limit). */
  audit_log_max_rows: z.union([z.literal(false), z.number().int().positive()]).default(1_000_000),
  /** How often the purge runs (also once at start). */
  audit_log_purge_interval: duration().prefault("1h"),
  /** mod_audit's options: store remote IPs, or only their network. */
  audit_log_ips: z.boolean().default(true),
  audit_log_ipv4_prefix: z.number().int().min(0).max(32).optional(),
  audit_log_ipv6_prefix: z.number().int().min(0).max(128).optional(),
  /** mod_audit's option: add the country of the IP. */
  audit_log_location: z.boolean().default(true),
  /** A .mmdb file (MaxMind GeoLite2/GeoIP2 Country or City); default: the bundled public-domain database. */
  audit_log_geoip_database: z.string().min(1).optional(),
  /** mod_audit_status's option: how often the heartbeat (for crash detection) is written. */
  audit_status_heartbeat_interval: duration().prefault(60),
  /** HTTP paths not recorded: monitoring polls these. */
  audit_log_http_exclude: z.array(z.string().startsWith("/")).default(["/healthz", "/metrics"]),
  /** More bus event types to record as they are (e.g. muc-joined, muc-left, delegated-iq-answered). */
  audit_log_extra_events: z.array(z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "an event name like muc-left")).default([]),
  /** Serve the page at /audit/. */
  audit_log_web: z.boolean().default(true),
});

export const auditGeoipOptions = moduleOptions(auditGeoipSchema);

export type AuditGeoipGatewayOptions = z.output<typeof auditGeoipSchema>;
