// From the core event bus to audit events. Every module's events arrive here through the bus, by name:
// this file reads payloads as plain data and never imports a feature package, so a gateway without
// report-forward still builds, and a bot's own events can be recorded too (`extraTypes`).
import type { EventBus, EventRecord } from "@xmppkit/core";
import type { AuditEventInput } from "./audit-event.js";
import type { AuditLog } from "./audit-log.js";

type Payload = Record<string, unknown>;
type Mapper = (p: Payload, ctx: MapContext) => Omit<AuditEventInput, "type" | "module"> | undefined;

interface MapContext {
  /** Some modules name accounts by username (http-roster-admin): qualified with the server domain. */
  account(user: unknown): string | undefined;
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v ? v : undefined);
const domainOf = (jid: string | undefined) => jid?.split("/")[0]?.split("@").pop();
const bare = (jid: string | undefined) => jid?.split("/")[0];

/** How each recorded event type becomes an audit event. */
export const EVENT_MAPPERS: Record<string, Mapper> = {
  "link-up": (p) => ({
    actor: str(p.jid),
    note: p.resumed ? "stream resumed" : p.reconnected ? "reconnected to the server" : "connected to the server",
    details: { reconnected: p.reconnected, resumed: p.resumed },
  }),
  "link-down": (p) => ({ note: `link to the server lost: ${str(p.reason) ?? "unknown reason"}` }),
  "gateway-takeover": (p) => ({
    actor: str(p.instance),
    host: str(p.component),
    note: `${str(p.instance) ?? "a standby"} took over ${str(p.component) ?? "the component"}: the previous holder of the lease stopped or died`,
    details: { instance: p.instance },
  }),
  "gateway-lease-lost": (p) => ({
    actor: str(p.instance),
    host: str(p.component),
    note: `${str(p.instance) ?? "the holder"} lost the lease and closed its link: ${str(p.reason) ?? "unknown reason"}`,
    details: { instance: p.instance, reason: p.reason },
  }),
  "permissions-granted": (p) => ({
    host: str(p.server),
    actor: str(p.server),
    note: `XEP-0356: roster ${str(p.roster) ?? "none"}, message ${str(p.message) ?? "none"}, presence ${str(p.presence) ?? "none"}`,
    details: { namespace: p.namespace, roster: p.roster, message: p.message, presence: p.presence, iq: p.iq },
  }),
  "namespaces-delegated": (p) => ({
    host: str(p.server),
    actor: str(p.server),
    note: `XEP-0355: ${Array.isArray(p.namespaces) ? p.namespaces.join(", ") : ""}`,
    details: { namespaces: p.namespaces },
  }),
  "session-available": (p) => ({
    user: str(p.user),
    resource: str(p.resource),
    actor: str(p.jid),
    host: domainOf(str(p.user)),
    ...(p.replayed ? { note: "already online when the gateway connected", details: { replayed: true } } : {}),
  }),
  "session-unavailable": (p) => ({ user: str(p.user), resource: str(p.resource), actor: str(p.jid), host: domainOf(str(p.user)) }),
  "http-request": (p) => ({
    actor: str(p.ip),
    ip: str(p.ip),
    note: `${str(p.method) ?? "?"} ${str(p.path) ?? "?"} → ${String(p.status)}`,
    details: { method: p.method, path: p.path, status: p.status, durationMs: p.durationMs },
  }),
  "refresh-requested": (p) => ({
    actor: str(p.ip),
    ip: str(p.ip),
    note: `roster refresh asked for ${Array.isArray(p.users) ? p.users.length : 0} user(s)`,
    details: { users: p.users, method: p.method, path: p.path },
  }),
  "roster-synced": (p, c) => ({
    user: c.account(p.user),
    host: domainOf(c.account(p.user)),
    note: `roster synced (${str(p.trigger) ?? "?"}): ${Number(p.added)} added, ${Number(p.changed)} changed, ${Number(p.removed)} removed`,
    details: {
      trigger: p.trigger,
      added: p.added,
      changed: p.changed,
      removed: p.removed,
      unchanged: p.unchanged,
      skipped: Array.isArray(p.skipped) ? p.skipped.length : 0,
      durationMs: p.durationMs,
    },
  }),
  "roster-sync-failed": (p, c) => ({
    user: c.account(p.user),
    host: domainOf(c.account(p.user)),
    note: `roster sync failed (${str(p.reason) ?? "?"}): ${str(p.message) ?? ""}`,
    details: { trigger: p.trigger, reason: p.reason, applied: typeof p.applied === "number" ? p.applied : 0 },
  }),
  "report-received": (p) => ({
    actor: str(p.source),
    ...(p.via === "http" ? { ip: str(p.source) } : {}),
    user: bare(str(p.reporter)),
    note: `report about ${str(p.reported) ?? "?"} (${str(p.reason) ?? "?"}) via ${str(p.via) ?? "?"}`,
    details: { id: p.id, via: p.via, reporter: p.reporter, reported: p.reported, reason: p.reason, reportOrigin: p.reportOrigin, thirdParty: p.thirdParty },
  }),
  "report-forwarded": (p) => {
    const dest = Array.isArray(p.destinations) ? (p.destinations as Payload[]) : [];
    const failed = dest.filter((d) => !d.ok).length;
    const pending = Array.isArray(p.pending) ? (p.pending as unknown[]) : [];
    return {
      actor: str(p.source),
      user: bare(str(p.reporter)),
      note: `report about ${str(p.reported) ?? "?"} delivered to ${dest.length - failed} destination(s)${failed ? `, ${failed} failed for good` : ""}${pending.length ? `, ${pending.length} still being tried` : ""}`,
      details: { id: p.id, reported: p.reported, destinations: dest, ...(pending.length ? { pending } : {}) },
    };
  },
  "report-rejected": (p) => ({
    actor: str(p.source),
    ...(p.via === "http" ? { ip: str(p.source) } : {}),
    user: bare(str(p.reporter)),
    note: `report refused (${str(p.reason) ?? "?"}): ${str(p.error) ?? ""}`,
    details: { id: p.id, via: p.via, reason: p.reason, reported: p.reported },
  }),
  "affiliation-queried": (p) => ({
    actor: str(p.requester),
    user: bare(str(p.jid)),
    host: domainOf(str(p.jid)),
    note: `XEP-0489 query by ${str(p.requester) ?? "?"}: ${str(p.outcome) ?? "?"}${str(p.affiliation) ? ` (${String(p.affiliation)})` : ""}`,
    details: { via: p.via, outcome: p.outcome, affiliation: p.affiliation, error: p.error },
  }),
  "muc-ghost-detected": (p) => ({
    actor: str(p.jid),
    note: `no longer in ${str(p.room) ?? "?"} as ${str(p.nick) ?? "?"}: ${str(p.reason) ?? ""}`,
    details: { room: p.room, nick: p.nick, trigger: p.trigger },
  }),
};

export interface RecordBusEventsOptions {
  /** The server whose users plain usernames belong to. */
  serverDomain?: string | undefined;
  /** HTTP paths not recorded (default: /healthz and /metrics, which monitoring polls). */
  httpExclude?: string[];
  /** More event types to record as they are (payload as details). */
  extraTypes?: string[];
  /** Called when a mapper or the log fails (the event source is never affected). */
  onError?(err: unknown, type: string): void;
}

/** The audit input for one bus record, or undefined when it is not recorded. */
export function auditInputOf(
  record: EventRecord,
  options: Pick<RecordBusEventsOptions, "httpExclude" | "extraTypes" | "serverDomain"> = {},
): AuditEventInput | undefined {
  const p = (record.payload ?? {}) as Payload;
  if (record.type === "http-request" && (options.httpExclude ?? DEFAULT_HTTP_EXCLUDE).includes(String(p.path))) return undefined;
  const mapper = EVENT_MAPPERS[record.type];
  if (mapper) {
    const account = (user: unknown) => {
      const u = str(user);
      return u && !u.includes("@") && options.serverDomain ? `${u}@${options.serverDomain}` : u;
    };
    const mapped = mapper(p, { account });
    return mapped && { type: record.type, module: record.module, time: record.time, ...mapped };
  }
  if (options.extraTypes?.includes(record.type)) return { type: record.type, module: record.module, time: record.time, details: p };
  return undefined;
}

export const DEFAULT_HTTP_EXCLUDE = ["/healthz", "/metrics"];

/**
 * Record the bus's events into `audit` from now on; returns the unsubscribe function. Recording only
 * queues (the write happens in a batch later), so emitters, stanza handlers among them, never wait.
 */
export function recordBusEvents(bus: Pick<EventBus, "onAny">, audit: Pick<AuditLog, "record">, options: RecordBusEventsOptions = {}): () => void {
  return bus.onAny((record) => {
    let input: AuditEventInput | undefined;
    try {
      input = auditInputOf(record, options);
    } catch (err) {
      options.onError?.(err, record.type);
      return;
    }
    if (input) audit.record(input).catch((err: unknown) => options.onError?.(err, record.type));
  });
}
