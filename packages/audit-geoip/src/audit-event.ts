// One audit event, close to mod_audit's <audit-event> so Prosody operators recognise it
// (modules-spec §7.2): `type` is the event (session-available), `module` its source (mod_audit's `source`),
// `user` the account it concerns, `ip` and `location` the remote end when there is one, `note` a line for
// humans, and `details` whatever else the producer knows, as JSON.
import type { Location } from "./geoip.js";

export interface AuditEvent {
  /** Unique, assigned when recorded. */
  id: string;
  time: Date;
  /** What happened, e.g. "session-available", "http-request", "report-forwarded". */
  type: string;
  /** Who caused it: a JID, or an IP for anonymous HTTP callers. */
  actor?: string;
  /** The local account it concerns (bare JID). */
  user?: string;
  /** The domain it happened on: the server's or the component's (mod_audit's host). */
  host: string;
  /** The user's resource (session), when the event is about one session. */
  resource?: string;
  /** The remote IP (normalised, maybe cut to a prefix), when there is one and `audit_log_ips` is on. */
  ip?: string;
  location?: Location;
  /** The module that produced it ("gateway" for the gateway itself, "core" for the link and HTTP). */
  module: string;
  /** Anything else the producer knows. */
  details?: Record<string, unknown>;
  /** One line for humans (mod_audit's <note>). */
  note?: string;
}

/** What a producer gives: the log assigns `id`, `time` (unless given), `host` (unless given) and `location`. */
export interface AuditEventInput {
  type: string;
  module: string;
  time?: Date;
  actor?: string | undefined;
  user?: string | undefined;
  host?: string | undefined;
  resource?: string | undefined;
  ip?: string | undefined;
  details?: Record<string, unknown> | undefined;
  note?: string | undefined;
}

/** Producers' strings end up in a table and a terminal: keep them one line and bounded. */
export function cleanText(value: string | undefined, max = 1000): string | undefined {
  if (value === undefined || value === null) return undefined;
  // eslint-disable-next-line no-control-regex
  const s = String(value)
    .replace(/[\u0000-\u001f\u007f]+/g, " ")
    .trim();
  if (!s) return undefined;
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/**
 * Details as JSON that always serialises: Errors become their message, bigints strings, Dates ISO strings,
 * cycles "[circular]", functions are dropped. A producer's odd payload never loses the event.
 */
export function detailsJson(details: Record<string, unknown> | undefined): string | undefined {
  if (!details || Object.keys(details).length === 0) return undefined;
  const seen = new WeakSet<object>();
  const json = JSON.stringify(details, function (this: unknown, _key, value: unknown) {
    if (typeof value === "bigint") return value.toString();
    if (typeof value === "function" || typeof value === "symbol") return undefined;
    if (value instanceof Error) return value.message;
    if (value && typeof value === "object") {
      if (seen.has(value)) return "[circular]";
      seen.add(value);
    }
    return value;
  });
  return json === "{}" ? undefined : json;
}
