// An audit event from a producer's input, made at record(): the IP normalised, located, then cut to the
// allowed prefix; text cleaned and bounded; the time copied. A payload that cannot be used never loses the
// event: what is certain (type, module, host, now) is recorded without the rest.
import type { Logger } from "@xmppkit/core";
import { cleanDetails, cleanText, type AuditEvent, type AuditEventInput } from "./audit-event.js";
import { eventId } from "./event-id.js";
import type { GeoIp } from "./geoip.js";
import { normalizeIp, truncateIp } from "./ip.js";

export interface EventBuilderOptions {
  /** The host of events that name none. */
  host: string;
  /** Keep remote IPs (and so their location). */
  ips: boolean;
  ipv4Prefix?: number | undefined;
  ipv6Prefix?: number | undefined;
}

export type EventBuilder = (input: AuditEventInput) => AuditEvent;

export function createEventBuilder(deps: { geoip?: GeoIp | undefined; logger?: Logger | undefined }, options: EventBuilderOptions): EventBuilder {
  const how: How = { geoip: deps.geoip, host: options.host, ips: options.ips, prefix: { ipv4: options.ipv4Prefix, ipv6: options.ipv6Prefix } };
  return (input) => {
    try {
      return buildEvent(input, how);
    } catch (err) {
      // A producer's payload must never take the event down with it: record what is certain.
      deps.logger?.warn({ err, type: input?.type }, "audit event had unusable fields; recorded without them");
      return {
        id: eventId(),
        time: new Date(),
        type: String(input?.type ?? "unknown").slice(0, 100),
        host: options.host,
        module: String(input?.module ?? "unknown").slice(0, 100),
      };
    }
  };
}

interface How {
  geoip: GeoIp | undefined;
  host: string;
  ips: boolean;
  prefix: { ipv4: number | undefined; ipv6: number | undefined };
}

function buildEvent(input: AuditEventInput, { geoip, host, ips, prefix }: How): AuditEvent {
  const rawIp = ips ? normalizeIp(input.ip) : undefined;
  // Locate the full address, then store what the operator allows (a prefix locates the same country).
  const location = rawIp ? geoip?.locate(rawIp) : undefined;
  const ip = rawIp ? truncateIp(rawIp, prefix) : undefined;
  const now = Date.now();
  // A copy of the producer's Date: the stored time is the one given at record(), whatever it does later.
  const given = input.time instanceof Date ? input.time.getTime() : Number.NaN;
  const event: AuditEvent = {
    id: eventId(now),
    time: new Date(Number.isNaN(given) ? now : given),
    type: cleanText(input.type, 100) ?? "unknown",
    host: cleanText(input.host, 300) ?? host,
    module: cleanText(input.module, 100) ?? "unknown",
  };
  const actor = cleanText(input.actor, 3071);
  const user = cleanText(input.user, 3071)?.toLowerCase();
  const resource = cleanText(input.resource, 1023);
  const note = cleanText(input.note);
  if (actor) event.actor = actor;
  if (user) event.user = user;
  if (resource) event.resource = resource;
  if (ip) event.ip = ip;
  if (location) event.location = location;
  const details = cleanDetails(input.details);
  if (details) event.details = details;
  if (note) event.note = note;
  return event;
}
