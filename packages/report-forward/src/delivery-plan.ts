// Who gets a report, and one copy's delivery. XEP-0377 v0.4's opt-ins pick the destinations
// (https://xmpp.org/extensions/xep-0377.html): the staff always, third parties with <third-party/>, the
// reported JID's server with <report-origin/> at its XEP-0157 address
// (https://xmpp.org/extensions/xep-0157.html). Each copy is sent and confirmed, or said to be worth
// another round, or final.
import { createHash } from "node:crypto";
import { StanzaError, StanzaRefusedError, domainOf, wireProblem, type Element, type Logger, type Privilege } from "@xmppkit/core";
import { DEFAULT_BODY_TEMPLATE, DEFAULT_STAFF_BODY_TEMPLATE } from "./body-template.js";
import type { ContactLookup } from "./contact-lookup.js";
import { DeliveryTimeoutError, type Delivery } from "./delivery.js";
import { digestMessage, forwardMessage, type AcceptedReport, type Audience, type DigestItem } from "./forward-message.js";
import type { Destination, Withheld } from "./report-types.js";
import type { StaffRooms } from "./staff-rooms.js";

/** One destination of a report: its stable key (what `done` records), and how to reach it. */
export interface Target {
  key: string;
  jid: string;
  audience: Audience;
  address?: "published" | "fallback";
}

/** A copy's outcome, and whether another round may change it. */
export type Delivered = Destination & { retry: boolean };

/** One message's outcome, for the reports (ids) it carried. */
export interface PartOutcome {
  ids: string[];
  result: Delivered;
}

export interface DeliveryPlanDeps {
  delivery: Pick<Delivery, "send">;
  rooms: Pick<StaffRooms, "isRoom" | "joined">;
  contacts: Pick<ContactLookup, "lookup">;
  /** For `asServer` (XEP-0356 message permission). */
  privilege?: Pick<Privilege, "sendMessage"> | undefined;
  server: string | undefined;
  serverDomains: ReadonlySet<string>;
  logger: Logger;
}

export interface DeliveryPlanOptions {
  staff: string[];
  thirdParties: string[];
  requireOptIn: boolean;
  toOrigin: boolean;
  asServer?: boolean | undefined;
  bodyTemplate?: string | undefined;
  staffBodyTemplate?: string | undefined;
  /** Largest message in bytes (a digest is split to fit). */
  maxStanzaBytes?: number | undefined;
}

export interface DeliveryPlan {
  /** Who gets `report` under the opt-ins, at once: staff and third parties, less what is `done` or `withheld`. */
  plan(report: AcceptedReport, done: readonly string[], withheld?: readonly Withheld[]): Target[];
  /**
   * The origin's destination, after its XEP-0157 lookup (which the other destinations do not wait for); an
   * origin without an address is a destination that never will be.
   */
  planOrigin(report: AcceptedReport, done: readonly string[], withheld?: readonly Withheld[]): Promise<{ targets: Target[]; unreachable: Destination[] }>;
  /** The staff destinations (every report goes to each). */
  staffTargets(): Target[];
  /** The third parties (report_forward_to). */
  thirdPartyTargets(): Target[];
  /** Send one copy of report `reportId` to `target`; never throws. */
  deliverTo(report: AcceptedReport, reportId: string, target: Target): Promise<Delivered>;
  /**
   * Send staff member `target` one digest of `items`, in as few messages as the wire allows: each message's
   * outcome for the reports it carries; never throws.
   */
  deliverDigestTo(items: readonly DigestItem[], heading: string, target: Target): Promise<PartOutcome[]>;
}

/** Bounces that another try will not change. */
const FINAL_CONDITIONS = new Set(["item-not-found", "jid-malformed", "not-allowed", "forbidden", "bad-request", "feature-not-implemented", "gone", "redirect"]);

/** The id of the message for one destination: the report id, so that a receiver can drop a repeat. */
export const messageId = (reportId: string, key: string) => `${reportId}.${createHash("sha1").update(key).digest("base64url").slice(0, 6)}`;

/**
 * Is a failure worth another round, or final? Final: what no retry changes (a copy refused on the wire, an
 * address the server calls malformed or unknown, a missing module). Everything else is tried again until
 * the report's max age: the link, a timeout, a room we are not in yet, a staff member who is offline on a
 * server without offline storage (Prosody answers service-unavailable, as for an unknown account).
 */
export function transient(err: unknown, room: boolean): boolean {
  if (StanzaRefusedError.isInstance(err)) return false;
  if (StanzaError.isInstance(err)) return room || !FINAL_CONDITIONS.has(err.condition);
  if (err instanceof DeliveryTimeoutError) return true;
  return !(err instanceof Error && /track-muc-joins is not set up/.test(err.message));
}

/** Is `domain` the server's own (or one of its services)? Its reports stay with staff. */
export function isLocal(domain: string, server: string | undefined) {
  return !!server && (domain === server || domain.endsWith(`.${server}`));
}

/** The body template for `audience`'s copies. */
export function templateFor(audience: Audience, options: Pick<DeliveryPlanOptions, "bodyTemplate" | "staffBodyTemplate">): string {
  return audience === "staff" ? (options.staffBodyTemplate ?? DEFAULT_STAFF_BODY_TEMPLATE) : (options.bodyTemplate ?? DEFAULT_BODY_TEMPLATE);
}

/** A message to send, and the reports it carries. */
interface Part {
  message: Element;
  ids: string[];
}

/** How a copy goes out: to a room once joined (groupchat, confirmed by its reflection), or to a JID. */
interface Sender {
  delivery: Pick<Delivery, "send">;
  rooms: Pick<StaffRooms, "isRoom" | "joined">;
  /** Instead of sending as this entity (report_forward_as_server). */
  via?: ((message: Element) => Promise<void>) | undefined;
}

/**
 * Send `build`'s messages to `t` one after another: each message's outcome for the reports it carries,
 * never a throw. A failure before any send (the room not joined) is every report's.
 */
async function sendParts(sender: Sender, t: Target, ids: string[], build: (type: "groupchat" | undefined) => Part[]): Promise<PartOutcome[]> {
  const base = { jid: t.jid, audience: t.audience, ...(t.address ? { address: t.address } : {}) };
  let room = false;
  const outcome = (err?: unknown): Delivered => {
    const where = { ...base, ...(t.audience === "staff" ? { room } : {}) };
    if (err === undefined) return { ...where, ok: true, retry: false };
    const error = StanzaError.isInstance(err) ? err.condition : (err as Error).message;
    return { ...where, ok: false, error, retry: transient(err, room) };
  };
  let parts: Part[];
  try {
    room = t.audience === "staff" && (await sender.rooms.isRoom(t.jid));
    parts = build(room ? "groupchat" : undefined);
    if (room) await sender.rooms.joined(t.jid);
  } catch (err) {
    return [{ ids, result: outcome(err) }];
  }
  const out: PartOutcome[] = [];
  for (const part of parts) {
    try {
      if (room) await sender.delivery.send(part.message, { room: true });
      else await sender.delivery.send(part.message, sender.via ? { via: sender.via } : {});
      out.push({ ids: part.ids, result: outcome() });
    } catch (err) {
      out.push({ ids: part.ids, result: outcome(err) });
    }
  }
  return out;
}

/** As few digest messages as the wire allows: halves of the list until each fits. */
function digestParts(
  items: readonly DigestItem[],
  heading: string,
  to: string,
  type: "groupchat" | undefined,
  maxBytes: number | undefined,
  first = 1,
): Part[] {
  const message = digestMessage(items, { to, heading, ...(type ? { type } : {}) }, first);
  message.attrs.id = messageId(items[0]!.id, `digest ${to} ${items.map((i) => i.id).join(" ")}`);
  if (items.length === 1 || !wireProblem(message.toString(), maxBytes)) return [{ message, ids: items.map((i) => i.id) }];
  const half = Math.ceil(items.length / 2);
  return [
    ...digestParts(items.slice(0, half), heading, to, type, maxBytes, first),
    ...digestParts(items.slice(half), `${heading} (continued)`, to, type, maxBytes, first + half),
  ];
}

export function createDeliveryPlan(deps: DeliveryPlanDeps, options: DeliveryPlanOptions): DeliveryPlan {
  const { delivery, rooms, contacts, privilege, server, serverDomains, logger: log } = deps;
  const { staff, thirdParties, requireOptIn, toOrigin } = options;

  /** Send through XEP-0356 as the server (report_forward_as_server), or as this entity. */
  async function sendAsServer(message: Element) {
    if (!privilege || !server) throw new Error("report_forward_as_server needs XEP-0356 and a server domain");
    message.attrs.from = server;
    await privilege.sendMessage(message);
  }

  const staffTargets = (): Target[] => staff.map((jid) => ({ key: `staff ${jid}`, jid, audience: "staff" as const }));
  const thirdPartyTargets = (): Target[] => thirdParties.map((jid) => ({ key: `third-party ${jid}`, jid, audience: "third-party" as const }));
  const isWithheld = (withheld: readonly Withheld[], audience: Withheld["audience"]) => withheld.some((w) => w.audience === audience);

  function plan(report: AcceptedReport, done: readonly string[], withheld: readonly Withheld[] = []): Target[] {
    const targets = staffTargets();
    if ((report.thirdParty || !requireOptIn) && !isWithheld(withheld, "third-party")) targets.push(...thirdPartyTargets());
    return targets.filter((t) => !done.includes(t.key));
  }

  async function planOrigin(
    report: AcceptedReport,
    done: readonly string[],
    withheld: readonly Withheld[] = [],
  ): Promise<{ targets: Target[]; unreachable: Destination[] }> {
    const originDomain = domainOf(report.reported)!;
    if (!toOrigin || !(report.reportOrigin || !requireOptIn) || done.includes("origin") || isWithheld(withheld, "origin"))
      return { targets: [], unreachable: [] };
    if (isLocal(originDomain, server)) {
      log.debug({ reported: report.reported }, "the reported JID is on this server: its report stays with the staff");
      return { targets: [], unreachable: [] };
    }
    const c = await contacts.lookup(originDomain);
    if (c.error) log.warn({ domain: originDomain, error: c.error, fallback: c.address }, "looking up the origin's contact addresses failed");
    if (c.address)
      return { targets: [{ key: "origin", jid: c.address, audience: "origin", address: c.kind === "published" ? "published" : "fallback" }], unreachable: [] };
    return {
      targets: [],
      unreachable: [{ jid: originDomain, audience: "origin", ok: false, error: c.error ?? "the origin publishes no report or abuse address" }],
    };
  }

  const sender: Sender = { delivery, rooms, via: options.asServer ? sendAsServer : undefined };

  async function deliverTo(report: AcceptedReport, reportId: string, t: Target): Promise<Delivered> {
    const [sent] = await sendParts(sender, t, [reportId], (type) => {
      const message = forwardMessage(report, t.audience, {
        to: t.jid,
        template: templateFor(t.audience, options),
        servedDomains: serverDomains,
        ...(type ? { type } : {}),
      });
      message.attrs.id = messageId(reportId, t.key);
      return [{ message, ids: [reportId] }];
    });
    return sent!.result;
  }

  function deliverDigestTo(items: readonly DigestItem[], heading: string, t: Target): Promise<PartOutcome[]> {
    return sendParts(
      sender,
      t,
      items.map((i) => i.id),
      (type) => digestParts(items, heading, t.jid, type, options.maxStanzaBytes),
    );
  }

  return { plan, planOrigin, staffTargets, thirdPartyTargets, deliverTo, deliverDigestTo };
}
