// The filters the CLI flags, `GET /audit` and the page share: text in, an AuditQuery out, or an error that
// names the parameter. `since`/`until` take a period back from now ("7d", "12h") or an ISO date/time.
import { parseDuration } from "@xmppkit/core";
import { AuditQueryError, type AuditQuery } from "./audit-log.js";

export type AuditQueryText = Partial<Record<"user" | "type" | "module" | "country" | "ip" | "since" | "until" | "limit" | "cursor", string | undefined>>;

const KNOWN = new Set(["user", "type", "module", "country", "ip", "since", "until", "limit", "cursor"]);

/** Parse filter text; unknown parameters are an error too (a typo must not silently show everything). */
export function parseAuditQuery(text: Record<string, unknown>, now: Date = new Date()): AuditQuery {
  const q: AuditQuery = {};
  for (const [key, raw] of Object.entries(text)) {
    if (raw === undefined || raw === "") continue;
    if (!KNOWN.has(key)) throw new AuditQueryError(key, `unknown filter (use ${[...KNOWN].join(", ")})`);
    if (typeof raw !== "string") throw new AuditQueryError(key, "give it once");
    const v = raw.trim();
    switch (key) {
      case "user":
        if (!/^[^@/\s]+@[^@/\s]+(\/.+)?$/.test(v)) throw new AuditQueryError("user", `expected a JID like alice@example.org, got ${JSON.stringify(v)}`);
        q.user = v;
        break;
      case "type": {
        const types = v
          .split(",")
          .map((t) => t.trim())
          .filter(Boolean);
        const bad = types.find((t) => !/^[a-z0-9][a-z0-9-]*$/.test(t));
        if (bad !== undefined) throw new AuditQueryError("type", `not an event type: ${JSON.stringify(bad)} (e.g. session-available)`);
        q.type = types;
        break;
      }
      case "module":
        if (!/^[a-z0-9][a-z0-9-]*$/.test(v)) throw new AuditQueryError("module", `not a module name: ${JSON.stringify(v)}`);
        q.module = v;
        break;
      case "country":
        if (!/^[A-Za-z]{2}$/.test(v)) throw new AuditQueryError("country", `expected a two-letter country code like GB, got ${JSON.stringify(v)}`);
        q.country = v.toUpperCase();
        break;
      case "ip":
        q.ip = v;
        break;
      case "since":
      case "until":
        q[key] = parseWhen(key, v, now);
        break;
      case "limit": {
        const n = /^\d+$/.test(v) ? Number(v) : NaN;
        if (!Number.isInteger(n) || n < 1 || n > 1000) throw new AuditQueryError("limit", `expected a whole number from 1 to 1000, got ${JSON.stringify(v)}`);
        q.limit = n;
        break;
      }
      case "cursor":
        q.cursor = v;
        break;
    }
  }
  if (q.since && q.until && q.since >= q.until) throw new AuditQueryError("since", "must be before until");
  return q;
}

/** "7d" → now − 7 days; "2026-11-01" or "2026-11-01T10:00:00Z" → that time (a date alone is UTC midnight). */
export function parseWhen(field: string, v: string, now: Date = new Date()): Date {
  const ms = parseDuration(v);
  if (ms !== undefined && /[a-z]$/i.test(v.trim())) return new Date(now.getTime() - ms);
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(v)) {
    const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v.replace(" ", "T"));
    if (!Number.isNaN(d.getTime())) return d;
  }
  throw new AuditQueryError(field, `expected a period back from now like 7d or 12h, or a date like 2026-11-01, got ${JSON.stringify(v)}`);
}
