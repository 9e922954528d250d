// One audit event, close to mod_audit's <audit-event> so Prosody operators recognise it
//: `type` is the event (session-available), `module` its source (mod_audit's `source`),
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

/** A string that cleanText leaves as it is: no control characters, no white space at either end. */
// eslint-disable-next-line no-control-regex
const CLEAN = /^[^\s\u0000-\u001f\u007f](?:[^\u0000-\u001f\u007f]*[^\s\u0000-\u001f\u007f])?$/;

/** Producers' strings end up in a table and a terminal: keep them one line and bounded. */
export function cleanText(value: string | undefined, max = 1000): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string" && value.length <= max && CLEAN.test(value)) return value; // the usual case, one test
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

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Details as they are stored and read back: what `JSON.parse(detailsJson(details))` gives, or undefined
 * when there is nothing to keep. Flat details (a plain object whose values are strings, booleans, null or
 * finite numbers), by far the most common, are copied as they are, which is the same value without
 * writing and parsing JSON; anything else goes through detailsJson's rules.
 */
export function cleanDetails(details: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!details) return undefined;
  if (typeof details === "object") {
    const proto = Object.getPrototypeOf(details) as unknown;
    if (proto === Object.prototype || proto === null) {
      const copy: Record<string, unknown> = {};
      let flat = true;
      let keys = 0;
      for (const key in details) {
        const value = details[key];
        if (
          !hasOwn.call(details, key) ||
          key === "__proto__" ||
          !(
            typeof value === "string" ||
            typeof value === "boolean" ||
            value === null ||
            (typeof value === "number" && Number.isFinite(value) && !Object.is(value, -0))
          )
        ) {
          flat = false;
          break;
        }
        copy[key] = value;
        keys++;
      }
      if (flat) return keys ? copy : undefined;
    }
  }
  const json = detailsJson(details);
  return json === undefined ? undefined : (JSON.parse(json) as Record<string, unknown>);
}
