// The abuse desk: take reports in (from the server's mod_report_forward, from HTTP, from code), and forward
// each to whoever it may go to under XEP-0377 v0.4's opt-ins:
//
//   staff        report_forward_to_staff — the operator's moderators, users and MUC rooms: every report,
//                with the reporter's JID;
//   third-party  report_forward_to — block lists, other services: only reports with <third-party/>,
//                reporter hidden;
//   origin       the reported JID's server (XEP-0157 address): only with <report-origin/> and
//                report_forward_to_origin, reporter hidden.
//
// `requireOptIn: false` is the seed's behaviour (everything to third parties and the origin).
// A report seen before inside the dedupe window goes nowhere (and says so); one over a limit goes to staff
// only; a burst reaches staff as one digest.
import {
  TypedEmitter,
  bareJid,
  extend,
  logListenerErrors,
  parseJid,
  silentLogger,
  type Iq,
  type IqReach,
  type Lifecycle,
  type Logger,
  type Privilege,
  type Stanzas,
  type Store,
} from "@xmppkit/core";
import { createCompletions } from "./completions.js";
import { createContactLookup, type ContactLookup } from "./contact-lookup.js";
import { createDelivery } from "./delivery.js";
import { createDeliveryPlan } from "./delivery-plan.js";
import { createDeliveryRound } from "./delivery-round.js";
import type { AcceptedReport } from "./forward-message.js";
import { createIntake } from "./intake.js";
import { listenForReports } from "./message-intake.js";
import type { DigestOptions } from "./report-limits.js";
import { memoryReportWindows, sqlReportWindows, type ReportWindows } from "./report-windows.js";
import { listenForHandovers } from "./server-handover.js";
import type { OutboxOptions } from "./outbox.js";
import { createReportOutbox } from "./report-outbox.js";
import type { ReportForwardEvents, ReportSource, SubmitResult } from "./report-types.js";
import { createStaffRooms, type StaffRoomJoins } from "./staff-rooms.js";

export type { StaffRoomJoins } from "./staff-rooms.js";
export type { Destination, IntakeVia, RejectReason, ReportForwardEvents, ReportSource, ReportSummary, SubmitResult, Withheld } from "./report-types.js";
export { dedupeKey } from "./intake.js";
export { deriveReporter } from "./message-intake.js";

export interface ReportForwardDeps {
  entity: { jid: { toString(): string } | null | undefined; options: { domain?: string | undefined } };
  kind: "client" | "component";
  stanzas: Stanzas;
  iq: Iq;
  lifecycle: Lifecycle;
  /** For `asServer` (XEP-0356 message permission). */
  privilege?: Privilege | undefined;
  /** track-muc-joins, for staff rooms (a getter is read when first needed). */
  joins?: StaffRoomJoins | (() => StaffRoomJoins | undefined) | undefined;
  /** The server whose users report (default: a client's own domain). */
  serverDomain?: string | undefined;
  /**
   * All domains of the server (a kit's `serverDomains`; default: `serverDomain`): a reporter is derived
   * only as an account of these, and no account of these but the reported one reaches a third party.
   */
  serverDomains?: ReadonlySet<string> | undefined;
  /** Where accepted reports wait for delivery (the gateway's store). Without it they wait in memory only. */
  store?: Store | undefined;
  logger?: Logger | undefined;
  /** A component's link check (a kit's `reach`): whom to ping for the delivery round trip. */
  reach?: Pick<IqReach, "echoTarget" | "settled"> | undefined;
}

export interface ReportForwardOptions {
  /** JIDs whose report messages are taken (Prosody option report_forward_sources; default: the server domain). */
  sources?: string[];
  /** The operator's moderators: user JIDs and MUC rooms. */
  staff?: string[];
  /** Nick in staff rooms (default "abuse-desk"). */
  staffNick?: string;
  /**
   * Staff rooms known to be MUC rooms without asking their service (also staff destinations): where the
   * server does not route a disco of the room's domain (ejabberd 24.10–24.12 with mod_privilege). Other
   * staff JIDs are looked up.
   */
  staffRooms?: string[];
  /** Third parties (Prosody: report_forward_to). */
  thirdParties?: string[];
  /** Tell the reported JID's server (Prosody: report_forward_to_origin; default true). */
  toOrigin?: boolean;
  /** Forward only as the reporter opted in (default true; false is the seed's behaviour). */
  requireOptIn?: boolean;
  originFallback?: boolean;
  /** ms; Prosody: report_forward_contact_lookup_timeout. */
  lookupTimeout?: number;
  contactCacheTtl?: number;
  contactCacheSize?: number;
  bodyTemplate?: string;
  staffBodyTemplate?: string;
  /** Send as the server domain through XEP-0356 (needs the message permission); default: as this entity. */
  asServer?: boolean;
  /** Same reporter, same reported JID, same message: forwarded once in this many ms (default 1 h; 0: off). */
  dedupeWindow?: number;
  /** Reports one reporter (or reporting session) sends on to third parties, and to the origin, per limitWindow (default 10; 0: no limit). Staff get every report. */
  reporterLimit?: number;
  /** Reports about one JID sent on to third parties, and to the origin, per limitWindow (default 30; 0: no limit). */
  reportedLimit?: number;
  /** The same for reports whose reporter nobody named, per reported JID (default 3; 0: no limit). */
  unattributedLimit?: number;
  /** ms (default 1 h). */
  limitWindow?: number;
  /** A burst (one reporter's, or about one JID) reaches staff as one digest. */
  digest?: DigestOptions;
  /** How long to wait for a staff room to be joined before a round gives up on posting to it (default 30 s). */
  roomWaitTimeout?: number;
  /** How long a room's reflection or the server's confirmation of a message may take (default 30 s). */
  deliveryTimeout?: number;
  /** Retries of undelivered reports. */
  outbox?: OutboxOptions;
  /** Largest forwarded message in bytes; a bigger report is refused where it enters (default: core's wire limit). */
  maxStanzaBytes?: number;
  now?: () => number;
}

export interface ReportForward extends TypedEmitter<ReportForwardEvents> {
  /** Take a report (already parsed) as if it had arrived by `source.via`. */
  submit(report: AcceptedReport, source: ReportSource): Promise<SubmitResult>;
  /** The XEP-0157 address lookup (for inspection, or to clear its cache). */
  readonly contacts: ContactLookup;
  /** Staff JIDs found to be rooms. */
  staffRooms(): string[];
  /** Accepted reports not yet delivered everywhere. */
  readonly pending: number;
  /** Resolves when reports left by a previous run are loaded (and being delivered). */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

/** Who is who, from the deps and options (bare JIDs, the server's domains). */
function resolveParties(deps: ReportForwardDeps, options: ReportForwardOptions) {
  const server = deps.serverDomain ?? (deps.kind === "client" ? deps.entity.options.domain : undefined);
  const serverDomains: ReadonlySet<string> = deps.serverDomains?.size ? deps.serverDomains : new Set(server ? [server] : []);
  const sources = new Set((options.sources ?? (server ? [server] : [])).map((s) => bareJid(s) ?? s));
  const staffRooms = (options.staffRooms ?? []).map((j) => bareJid(j) ?? j);
  const staff = [...new Set([...(options.staff ?? []).map((j) => bareJid(j) ?? j), ...staffRooms])];
  return { server, serverDomains, sources, staffRooms, staff, thirdParties: options.thirdParties ?? [] };
}

export function setupReportForward(deps: ReportForwardDeps, options: ReportForwardOptions = {}): ReportForward {
  const { entity, kind, stanzas, iq, lifecycle } = deps;
  const log = deps.logger ?? silentLogger();
  const emitter = new TypedEmitter<ReportForwardEvents>(logListenerErrors(log, "a report-forward listener failed"));
  const { server, serverDomains, sources, staffRooms, staff, thirdParties } = resolveParties(deps, options);
  const now = options.now ?? Date.now;
  const contacts = createContactLookup(
    { iq },
    {
      timeout: options.lookupTimeout ?? 180_000,
      ttl: options.contactCacheTtl ?? 3_600_000,
      cacheSize: options.contactCacheSize ?? 256,
      fallback: options.originFallback ?? true,
    },
  );
  const rooms = createStaffRooms(
    { iq, joins: () => (typeof deps.joins === "function" ? deps.joins() : deps.joins), server, logger: log },
    { staff, knownRooms: staffRooms, nick: options.staffNick ?? "abuse-desk", waitTimeoutMs: options.roomWaitTimeout ?? 30_000 },
  );
  for (const jid of [...staff, ...thirdParties]) {
    if (!parseJid(jid)) throw new TypeError(`not a JID: ${JSON.stringify(jid)}`);
  }

  const onOnline = () => void rooms.keep();
  lifecycle.on("online", onOnline);
  if (lifecycle.online) onOnline();

  const delivery = createDelivery(
    { stanzas, iq },
    {
      server,
      echo: () => deps.reach?.echoTarget() ?? server,
      echoReady: async () => deps.reach?.settled(),
      from: kind === "component" ? entity.options.domain : undefined,
      timeoutMs: options.deliveryTimeout ?? 30_000,
    },
  );
  const planner = createDeliveryPlan(
    { delivery, rooms, contacts, privilege: deps.privilege, server, serverDomains, logger: log },
    { ...options, staff, thirdParties, requireOptIn: options.requireOptIn ?? true, toOrigin: options.toOrigin ?? true },
  );
  const completions = createCompletions();
  const rounds = createDeliveryRound({ planner, emitter, completions, logger: log, digestWindow: options.digest?.window });
  const outbox = createReportOutbox(
    { store: deps.store, lifecycle, deliver: rounds.round, deliverGroup: rounds.digestRound, completions, logger: log },
    options.outbox,
  );
  const windows: Promise<ReportWindows> = deps.store ? sqlReportWindows(deps.store, now) : Promise.resolve(memoryReportWindows(now));
  windows.catch((err: unknown) => log.error({ err }, "the report limits could not be set up in the store"));
  const submit = createIntake(
    { emitter, logger: log, windows, enqueue: outbox.enqueue, now },
    { ...options, thirdParties, server, from: entity.options.domain ?? server, servedDomains: serverDomains },
  );
  const ready = Promise.all([outbox.ready, windows]).then(() => undefined);
  ready.catch(() => undefined); // said in the log above; a bot that does not await `ready` must not crash
  const handovers = listenForHandovers({ iq, lifecycle, kind, serverDomains, submit, logger: log });
  const offIncoming = listenForReports({ stanzas, kind, sources, serverDomains, submit, emitter, logger: log, namesReporters: handovers.namesReporters });

  return extend(emitter, {
    submit,
    contacts,
    staffRooms: () => rooms.rooms(),
    get pending() {
      return outbox.size;
    },
    ready,
    async stop() {
      offIncoming();
      handovers.stop();
      lifecycle.off("online", onOnline);
      rooms.stop();
      delivery.stop(); // what waits for a confirmation settles now, as "try again"
      await outbox.stop();
    },
  });
}
