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
// A report seen before inside the dedupe window, or over a rate limit, goes nowhere (and says so).
import { createHash } from "node:crypto";
import {
  StanzaError,
  StanzaRefusedError,
  TypedEmitter,
  bareJid,
  domainOf,
  extend,
  logListenerErrors,
  parseJid,
  randomId,
  silentLogger,
  wireProblem,
  xml,
  type Element,
  type Iq,
  type IqReach,
  type Lifecycle,
  type Logger,
  type Privilege,
  type Stanzas,
  type Store,
} from "@xmppkit/core";
import { createDelivery, DeliveryTimeoutError } from "./delivery.js";
import {
  createOutbox,
  loadReport,
  memoryOutboxStore,
  sqlOutboxStore,
  storeReport,
  type OutboxEntry,
  type OutboxOptions,
  type OutboxStore,
  type Round,
} from "./outbox.js";
import { DEFAULT_BODY_TEMPLATE, DEFAULT_STAFF_BODY_TEMPLATE } from "./body-template.js";
import { createContactLookup, type ContactLookup } from "./contact-lookup.js";
import { forwardMessage, type AcceptedReport, type Audience } from "./forward-message.js";
import { DedupeWindow, SlidingWindowLimit } from "./report-limits.js";
import { ReportParseError, findReport, parseReportMessage, type ParsedReport } from "./report.js";
import { createStaffRooms, type StaffRoomJoins } from "./staff-rooms.js";

export type { StaffRoomJoins } from "./staff-rooms.js";

export interface ReportForwardDeps {
  entity: { jid: { toString(): string } | null | undefined; options: { domain?: string } };
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
  /** Reports per reporter per limitWindow (default 20; 0: no limit). */
  reporterLimit?: number;
  /** Reports about one JID per limitWindow (default 100; 0: no limit). */
  reportedLimit?: number;
  /** Reports per source (a server, an HTTP caller's IP) per limitWindow (default 500; 0: no limit): caps a flood whose reporters are not named. */
  sourceLimit?: number;
  limitWindow?: number;
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

export type IntakeVia = "message" | "http" | "api";

/** Where a report came from. */
export interface ReportSource {
  via: IntakeVia;
  /** The sending JID (message), the caller's IP (http), or a label (api). */
  source: string;
  /** The id of the source's message (message intake): what tells one report from another when nobody is named. */
  messageId?: string | undefined;
}

export interface Destination {
  jid: string;
  audience: Audience;
  /** For staff: a room (groupchat) or a user. */
  room?: boolean;
  /** For the origin: a published address or the bare-domain fallback. */
  address?: "published" | "fallback";
  ok: boolean;
  error?: string;
}

export interface ReportSummary {
  id: string;
  via: IntakeVia;
  source: string;
  reporter: string | undefined;
  reported: string;
  reason: AcceptedReport["reason"];
  reportOrigin: boolean;
  thirdParty: boolean;
}

export type RejectReason = "unlisted-source" | "malformed" | "too-large" | "duplicate" | "rate-limited";

export interface ReportForwardEvents extends Record<string, unknown> {
  received: ReportSummary;
  /**
   * Destinations that got the report in one delivery round (`ok`), or never will (`ok: false`); `pending`
   * lists those that are tried again later. Each destination appears in exactly one of these events.
   */
  forwarded: ReportSummary & { destinations: Destination[]; pending: string[] };
  rejected: { via: IntakeVia; source: string; reason: RejectReason; error: string; id?: string; reporter?: string | undefined; reported?: string };
}

export type SubmitResult =
  | {
      status: "accepted";
      id: string;
      /** Resolves once the report is stored in the outbox (what a 202 may promise); rejects if it could not be. */
      stored: Promise<void>;
      /** Every destination's outcome, once all are settled (in this process). */
      forwarded: Promise<Destination[]>;
    }
  | { status: "duplicate" | "rate-limited"; id: string; error: string; retryAfterMs?: number }
  | { status: "invalid" | "too-large"; id: string; error: string };

export interface ReportForward extends TypedEmitter<ReportForwardEvents> {
  /** Take a report (already parsed) as if it had arrived by `source.via`. */
  submit(report: AcceptedReport, source: ReportSource): SubmitResult;
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

/**
 * A key naming "the same report", or undefined when nothing tells two reports apart safely. With a reporter:
 * the reporter, the reported JID and the reported message. Without one, two reports may come from two
 * people, so only the source's own message id identifies a report (the same message delivered twice).
 */
export function dedupeKey(report: AcceptedReport, source: ReportSource): string | undefined {
  if (!report.reporter) return source.messageId ? `${source.via} ${source.source} message ${source.messageId}` : undefined;
  const message = report.forwarded?.message;
  const stanza =
    report.stanzaIds
      .map((s) => `${s.by} ${s.id}`)
      .sort()
      .join(",") || (message ? `${message.attrs.from ?? ""} ${message.attrs.id ?? ""} ${message.getChildText("body") ?? ""}` : "");
  return `${report.reporter}\n${report.reported}\n${stanza}\n${JSON.stringify(report.texts)}`;
}

/**
 * Who filed a report the server forwarded, when the stanza says so: the forwarded copy's `to` (the
 * reported message was in their archive), or a stanza-id whose `by` is their account (XEP-0359: the
 * archiving entity). Only an account of the served domains counts, never the reported JID itself.
 */
export function deriveReporter(report: Pick<AcceptedReport, "reported" | "stanzaIds" | "forwarded">, serverDomains: ReadonlySet<string>): string | undefined {
  const reported = bareJid(report.reported);
  for (const candidate of [report.forwarded?.message.attrs.to as string | undefined, ...report.stanzaIds.map((s) => s.by)]) {
    const j = parseJid(candidate);
    if (j?.local && serverDomains.has(j.domain) && j.bare().toString() !== reported) return j.bare().toString();
  }
  return undefined;
}

/** Bounces that another try will not change. */
const FINAL_CONDITIONS = new Set(["item-not-found", "jid-malformed", "not-allowed", "forbidden", "bad-request", "feature-not-implemented", "gone", "redirect"]);

/** The id of the message for one destination: the report id, so that a receiver can drop a repeat. */
const messageId = (reportId: string, key: string) => `${reportId}.${createHash("sha1").update(key).digest("base64url").slice(0, 6)}`;

/**
 * Is a failure worth another round, or final? Final: what no retry changes (a copy refused on the wire, an
 * address the server calls malformed or unknown, a missing module). Everything else is tried again until
 * the report's max age: the link, a timeout, a room we are not in yet, a staff member who is offline on a
 * server without offline storage (Prosody answers service-unavailable, as for an unknown account).
 */
function transient(err: unknown, room: boolean): boolean {
  if (StanzaRefusedError.isInstance(err)) return false;
  if (StanzaError.isInstance(err)) return room || !FINAL_CONDITIONS.has(err.condition);
  if (err instanceof DeliveryTimeoutError) return true;
  return !(err instanceof Error && /track-muc-joins is not set up/.test(err.message));
}

/** Is `domain` the server's own (or one of its services)? Its reports stay with staff. */
function isLocal(domain: string, server: string | undefined) {
  return !!server && (domain === server || domain.endsWith(`.${server}`));
}

export function setupReportForward(deps: ReportForwardDeps, options: ReportForwardOptions = {}): ReportForward {
  const { entity, kind, stanzas, iq, lifecycle, privilege } = deps;
  const log = deps.logger ?? silentLogger();
  const emitter = new TypedEmitter<ReportForwardEvents>(logListenerErrors(log, "a report-forward listener failed"));
  const server = deps.serverDomain ?? (kind === "client" ? entity.options.domain : undefined);
  const serverDomains: ReadonlySet<string> = deps.serverDomains?.size ? deps.serverDomains : new Set(server ? [server] : []);
  const sources = new Set((options.sources ?? (server ? [server] : [])).map((s) => bareJid(s) ?? s));
  const staffRooms = (options.staffRooms ?? []).map((j) => bareJid(j) ?? j);
  const staff = [...new Set([...(options.staff ?? []).map((j) => bareJid(j) ?? j), ...staffRooms])];
  const thirdParties = options.thirdParties ?? [];
  const requireOptIn = options.requireOptIn ?? true;
  const toOrigin = options.toOrigin ?? true;
  const now = options.now ?? Date.now;
  const limitWindow = options.limitWindow ?? 3_600_000;
  const dedupe = new DedupeWindow(options.dedupeWindow ?? 3_600_000, now);
  const perReporter = new SlidingWindowLimit(options.reporterLimit ?? 20, limitWindow, now);
  const perReported = new SlidingWindowLimit(options.reportedLimit ?? 100, limitWindow, now);
  const perSource = new SlidingWindowLimit(options.sourceLimit ?? 500, limitWindow, now);
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

  /** Send through XEP-0356 as the server (report_forward_as_server), or as this entity. */
  async function sendAsServer(message: Element) {
    if (!privilege || !server) throw new Error("report_forward_as_server needs XEP-0356 and a server domain");
    message.attrs.from = server;
    await privilege.sendMessage(message);
  }

  /** One destination of a report: its stable key (what `done` records), and how to reach it. */
  interface Target {
    key: string;
    jid: string;
    audience: Audience;
    address?: "published" | "fallback";
  }

  /** Who gets `report` under the opt-ins, at once: staff and third parties. */
  function plan(report: AcceptedReport, done: readonly string[]): Target[] {
    const targets: Target[] = staff.map((jid) => ({ key: `staff ${jid}`, jid, audience: "staff" as const }));
    if (report.thirdParty || !requireOptIn) targets.push(...thirdParties.map((jid) => ({ key: `third-party ${jid}`, jid, audience: "third-party" as const })));
    return targets.filter((t) => !done.includes(t.key));
  }

  /**
   * The origin's destination, after its XEP-0157 lookup (which the other destinations do not wait for); an
   * origin without an address is a destination that never will be.
   */
  async function planOrigin(report: AcceptedReport, done: readonly string[]): Promise<{ targets: Target[]; unreachable: Destination[] }> {
    const originDomain = domainOf(report.reported)!;
    if (!toOrigin || !(report.reportOrigin || !requireOptIn) || done.includes("origin")) return { targets: [], unreachable: [] };
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

  async function deliverTo(report: AcceptedReport, reportId: string, t: Target): Promise<Destination & { retry: boolean }> {
    const base = { jid: t.jid, audience: t.audience, ...(t.address ? { address: t.address } : {}) };
    let room = false;
    try {
      room = t.audience === "staff" && (await rooms.isRoom(t.jid));
      const template = t.audience === "staff" ? (options.staffBodyTemplate ?? DEFAULT_STAFF_BODY_TEMPLATE) : (options.bodyTemplate ?? DEFAULT_BODY_TEMPLATE);
      const message = forwardMessage(report, t.audience, {
        to: t.jid,
        template,
        servedDomains: serverDomains,
        ...(room ? { type: "groupchat" as const } : {}),
      });
      message.attrs.id = messageId(reportId, t.key);
      if (room) {
        await rooms.joined(t.jid);
        await delivery.send(message, { room: true });
      } else {
        await delivery.send(message, options.asServer ? { via: sendAsServer } : {});
      }
      return { ...base, ...(t.audience === "staff" ? { room } : {}), ok: true, retry: false };
    } catch (err) {
      const error = StanzaError.isInstance(err) ? err.condition : (err as Error).message;
      return { ...base, ...(t.audience === "staff" ? { room } : {}), ok: false, error, retry: transient(err, room) };
    }
  }

  const completions = new Map<string, { resolve(d: Destination[]): void; all: Destination[] }>();

  /** One delivery round of an outbox entry: everything it still lacks, at once. */
  async function deliverRound(entry: OutboxEntry, final: boolean): Promise<Round> {
    let report: AcceptedReport;
    try {
      report = loadReport(entry.report);
    } catch (err) {
      log.error({ id: entry.id, err: (err as Error).message }, "a stored report cannot be read; it is dropped");
      return { settled: [], retry: false };
    }
    const summary = summaryOf(entry.id, report, entry.source);
    const deliverAll = (targets: Target[]) => Promise.all(targets.map((t) => deliverTo(report, entry.id, t)));
    const now = plan(report, entry.done);
    const [first, origin] = await Promise.all([
      deliverAll(now),
      planOrigin(report, entry.done).then(async (o) => ({ ...o, results: await deliverAll(o.targets) })),
    ]);
    const targets = [...now, ...origin.targets];
    const results = [...first, ...origin.results];
    const unreachable = origin.unreachable;
    const settledNow = results.filter((r) => !r.retry || final);
    const again = results.filter((r) => r.retry && !final);
    const destinations: Destination[] = [...settledNow.map(({ retry: _retry, ...d }) => d), ...unreachable];
    for (const d of destinations.filter((x) => !x.ok))
      log.warn(
        { id: entry.id, to: d.jid, audience: d.audience, error: d.error },
        final ? "forwarding a report failed; giving up" : "forwarding a report failed",
      );
    for (const d of again) log.warn({ id: entry.id, to: d.jid, audience: d.audience, error: d.error }, "forwarding a report failed; it will be tried again");
    if (!entry.done.length && !destinations.length && !again.length) {
      log.warn(
        { id: entry.id, reported: report.reported, reportOrigin: report.reportOrigin, thirdParty: report.thirdParty },
        "a report has no destination: configure report_forward_to_staff",
      );
    }
    if (destinations.length || (!again.length && !entry.done.length)) {
      emitter.emit("forwarded", { ...summary, destinations, pending: again.map((d) => d.jid) });
    }
    const completion = completions.get(entry.id);
    completion?.all.push(...destinations);
    const keys = targets.filter((_, i) => !results[i]!.retry || final).map((t) => t.key);
    if (unreachable.length) keys.push("origin");
    return { settled: keys, retry: again.length > 0 };
  }

  const outboxStore: Promise<OutboxStore> = deps.store ? sqlOutboxStore(deps.store) : Promise.resolve(memoryOutboxStore());
  const outboxReady = outboxStore.then((store) => {
    const box = createOutbox(
      {
        store,
        lifecycle,
        deliver: deliverRound,
        onFinished(entry, gaveUp) {
          if (gaveUp) log.error({ id: entry.id }, "a report could not be delivered everywhere before report_forward_max_age; it was given up");
          const c = completions.get(entry.id);
          completions.delete(entry.id);
          c?.resolve(c.all);
        },
        logger: log,
      },
      options.outbox,
    );
    return box;
  });
  const ready = outboxReady.then((box) => box.start());
  ready.catch((err: unknown) => log.error({ err }, "the report outbox could not be loaded"));
  let outbox: Awaited<typeof outboxReady> | undefined;
  void outboxReady.then(
    (b) => (outbox = b),
    () => undefined,
  );

  function summaryOf(id: string, report: AcceptedReport, source: ReportSource): ReportSummary {
    return {
      id,
      via: source.via,
      source: source.source,
      reporter: report.reporter,
      reported: report.reported,
      reason: report.reason,
      reportOrigin: report.reportOrigin,
      thirdParty: report.thirdParty,
    };
  }

  /** Would any copy of this report be refused on the wire (a forbidden character, too large)? Said at intake. */
  function wireCheck(report: AcceptedReport): StanzaRefusedError | undefined {
    const copies: [Audience, string][] = [
      ["staff", options.staffBodyTemplate ?? DEFAULT_STAFF_BODY_TEMPLATE],
      ["third-party", options.bodyTemplate ?? DEFAULT_BODY_TEMPLATE],
    ];
    for (const [audience, template] of copies) {
      const m = forwardMessage(report, audience, {
        to: "placeholder@example.org",
        from: entity.options.domain ?? server,
        template,
        servedDomains: serverDomains,
      });
      const problem = wireProblem(m.toString(), options.maxStanzaBytes);
      if (problem) return problem;
    }
    return undefined;
  }

  function submit(report: AcceptedReport, source: ReportSource): SubmitResult {
    const id = randomId();
    const reject = (reason: "duplicate" | "rate-limited" | "malformed" | "too-large", error: string, _retryAfterMs?: number) => {
      log.warn({ id, via: source.via, source: source.source, reporter: report.reporter, reported: report.reported, reason }, `report not forwarded: ${error}`);
      emitter.emit("rejected", { via: source.via, source: source.source, reason, error, id, reporter: report.reporter, reported: report.reported });
    };
    const problem = wireCheck(report);
    if (problem) {
      const tooLarge = problem.reason === "too-large";
      const error = tooLarge
        ? `the report is too large to forward over XMPP (${problem.message.replace(/^refused to send [^:]*: /, "")})`
        : `the report holds a character XML forbids (${problem.message.replace(/^refused to send [^:]*: /, "")})`;
      reject(tooLarge ? "too-large" : "malformed", error);
      return { status: tooLarge ? "too-large" : "invalid", id, error };
    }
    const summary = summaryOf(id, report, source);
    log.info(summary, "report received");
    emitter.emit("received", summary);
    const reportedKey = bareJid(report.reported) ?? report.reported;
    // Per reporter when known; per reported JID and per source always, so a flood is capped even when the
    // server does not name its reporters.
    const limits: [SlidingWindowLimit, string | undefined, string][] = [
      [perReporter, report.reporter, `too many reports from ${report.reporter}`],
      [perReported, reportedKey, `too many reports about ${reportedKey}`],
      [perSource, source.source, `too many reports from ${source.source}`],
    ];
    for (const [limit, key, error] of limits) {
      const wait = key ? limit.retryAfter(key) : 0;
      if (wait > 0) {
        reject("rate-limited", error);
        return { status: "rate-limited", id, error, retryAfterMs: wait };
      }
    }
    const key = dedupeKey(report, source);
    if (key !== undefined && dedupe.seen(key)) {
      reject("duplicate", "the same report was forwarded already");
      return { status: "duplicate", id, error: "the same report was forwarded already" };
    }
    for (const [limit, k] of limits) if (k) limit.take(k);

    const entry: OutboxEntry = { id, acceptedAt: now(), report: storeReport(report), source, done: [], attempts: 0, nextAt: now() };
    const forwarded = new Promise<Destination[]>((resolve) => completions.set(id, { resolve, all: [] }));
    const stored = outboxReady.then((box) => box.add(entry));
    stored.catch((err: unknown) => {
      completions.delete(id);
      log.error({ err, id }, "could not store an accepted report in the outbox");
    });
    return { status: "accepted", id, stored, forwarded };
  }

  function rejectIntake(stanza: Element, condition: string, type: "auth" | "modify", reason: RejectReason, error: string) {
    const from = String(stanza.attrs.from ?? "");
    log.warn({ from, reason, error }, "report message refused");
    emitter.emit("rejected", { via: "message", source: from, reason, error });
    if (!from) return;
    const attrs: Record<string, string> = { type: "error", to: from };
    if (stanza.attrs.id) attrs.id = stanza.attrs.id;
    if (kind === "component" && stanza.attrs.to) attrs.from = stanza.attrs.to;
    void stanzas.send(xml("message", attrs, new StanzaError(condition, type, error).toElement())).catch(() => undefined);
  }

  // Intake 1: a server's forwarded report (<message> with <report> and <jid xmlns="urn:xmpp:jid:0">).
  const offIncoming = stanzas.onIncoming((stanza) => {
    if (stanza.name !== "message" || stanza.attrs.type === "error" || stanza.attrs.type === "groupchat" || !findReport(stanza)) return;
    const from = String(stanza.attrs.from ?? "");
    if (!sources.has(bareJid(from) ?? from)) {
      rejectIntake(stanza, "forbidden", "auth", "unlisted-source", `${from || "(no sender)"} is not in report_forward_sources`);
      return true;
    }
    let parsed: ParsedReport;
    try {
      parsed = parseReportMessage(stanza);
    } catch (err) {
      if (!(err instanceof ReportParseError)) throw err;
      rejectIntake(stanza, "bad-request", "modify", "malformed", err.message);
      return true;
    }
    const reporter = deriveReporter(parsed, serverDomains);
    const reporterHint = reporter ? undefined : `a user of ${domainOf(from) ?? from}; the server did not name them`;
    submit(
      { ...parsed, element: findReport(stanza)!, reporter, reporterHint },
      { via: "message", source: from, messageId: stanza.attrs.id as string | undefined },
    );
    return true;
  });

  return extend(emitter, {
    submit,
    contacts,
    staffRooms: () => rooms.rooms(),
    get pending() {
      return outbox?.size ?? 0;
    },
    ready,
    async stop() {
      offIncoming();
      lifecycle.off("online", onOnline);
      rooms.stop();
      delivery.stop(); // what waits for a confirmation settles now, as "try again"
      await outbox?.stop();
    },
  });
}
