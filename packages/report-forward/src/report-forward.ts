// The abuse desk: take reports in (from the server's mod_report_forward, from HTTP, from code), and forward
// each to whoever it may go to under XEP-0377 v0.4's opt-ins (modules-spec §5, §12.4):
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
import {
  NS_DISCO_INFO,
  TypedEmitter,
  bareJid,
  domainOf,
  extend,
  parseJid,
  randomId,
  silentLogger,
  xml,
  type Element,
  type Iq,
  type Lifecycle,
  type Logger,
  type Privilege,
  type Stanzas,
  StanzaError,
} from "@xmppkit/core";
import { DEFAULT_BODY_TEMPLATE, DEFAULT_STAFF_BODY_TEMPLATE } from "./body-template.js";
import { createContactLookup, type ContactLookup } from "./contact-lookup.js";
import { forwardMessage, type AcceptedReport, type Audience } from "./forward-message.js";
import { DedupeWindow, SlidingWindowLimit } from "./report-limits.js";
import { ReportParseError, findReport, parseReportMessage } from "./report.js";

/** The slice of track-muc-joins this needs to post into staff rooms. */
export interface StaffRoomJoins {
  keep(room: string, options: { nick: string; from?: string | undefined }): () => void;
  isJoined(room: string, jid?: string): boolean;
  on(event: "joined", fn: (e: { jid: string; room: string }) => void): unknown;
  off(event: "joined", fn: (e: { jid: string; room: string }) => void): unknown;
}

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
  logger?: Logger | undefined;
}

export interface ReportForwardOptions {
  /** JIDs whose report messages are taken (Prosody option report_forward_sources; default: the server domain). */
  sources?: string[];
  /** The operator's moderators: user JIDs and MUC rooms. */
  staff?: string[];
  /** Nick in staff rooms (default "abuse-desk"). */
  staffNick?: string;
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
  limitWindow?: number;
  /** How long to wait for a staff room to be joined before giving up on posting to it (default 30 s). */
  roomWaitTimeout?: number;
  now?: () => number;
}

export type IntakeVia = "message" | "http" | "api";

/** Where a report came from. */
export interface ReportSource {
  via: IntakeVia;
  /** The sending JID (message), the caller's IP (http), or a label (api). */
  source: string;
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

export type RejectReason = "unlisted-source" | "malformed" | "duplicate" | "rate-limited";

export interface ReportForwardEvents extends Record<string, unknown> {
  received: ReportSummary;
  forwarded: ReportSummary & { destinations: Destination[] };
  rejected: { via: IntakeVia; source: string; reason: RejectReason; error: string; id?: string; reporter?: string | undefined; reported?: string };
}

export type SubmitResult =
  | { status: "accepted"; id: string; forwarded: Promise<Destination[]> }
  | { status: "duplicate" | "rate-limited"; id: string; error: string; retryAfterMs?: number };

export interface ReportForward extends TypedEmitter<ReportForwardEvents> {
  /** Take a report (already parsed) as if it had arrived by `source.via`. */
  submit(report: AcceptedReport, source: ReportSource): SubmitResult;
  /** The XEP-0157 address lookup (for inspection, or to clear its cache). */
  readonly contacts: ContactLookup;
  /** Staff JIDs found to be rooms. */
  staffRooms(): string[];
  stop(): void;
}

/** A key naming "the same report": reporter, reported JID, and the reported message. */
export function dedupeKey(report: AcceptedReport, source: ReportSource): string {
  const message = report.forwarded?.message;
  const stanza =
    report.stanzaIds.map((s) => `${s.by} ${s.id}`).sort().join(",") ||
    (message ? `${message.attrs.from ?? ""} ${message.attrs.id ?? ""} ${message.getChildText("body") ?? ""}` : "");
  // Without a reporter, two people's reports of one JID differ at best by their words.
  const who = report.reporter ?? `${source.source} ${JSON.stringify(report.texts)}`;
  return `${who}\n${report.reported}\n${stanza}`;
}

/** Is `domain` the server's own (or one of its services)? Its reports stay with staff. */
function isLocal(domain: string, server: string | undefined) {
  return !!server && (domain === server || domain.endsWith(`.${server}`));
}

export function setupReportForward(deps: ReportForwardDeps, options: ReportForwardOptions = {}): ReportForward {
  const { entity, kind, stanzas, iq, lifecycle, privilege } = deps;
  const log = deps.logger ?? silentLogger();
  const emitter = new TypedEmitter<ReportForwardEvents>();
  const server = deps.serverDomain ?? (kind === "client" ? entity.options.domain : undefined);
  const sources = new Set((options.sources ?? (server ? [server] : [])).map((s) => bareJid(s) ?? s));
  const staff = options.staff ?? [];
  const thirdParties = options.thirdParties ?? [];
  const requireOptIn = options.requireOptIn ?? true;
  const toOrigin = options.toOrigin ?? true;
  const now = options.now ?? Date.now;
  const limitWindow = options.limitWindow ?? 3_600_000;
  const dedupe = new DedupeWindow(options.dedupeWindow ?? 3_600_000, now);
  const perReporter = new SlidingWindowLimit(options.reporterLimit ?? 20, limitWindow, now);
  const perReported = new SlidingWindowLimit(options.reportedLimit ?? 100, limitWindow, now);
  const contacts = createContactLookup(
    { iq },
    {
      timeout: options.lookupTimeout ?? 180_000,
      ttl: options.contactCacheTtl ?? 3_600_000,
      cacheSize: options.contactCacheSize ?? 256,
      fallback: options.originFallback ?? true,
    },
  );
  const joinsOf = () => (typeof deps.joins === "function" ? deps.joins() : deps.joins);
  const unkeep: (() => void)[] = [];
  const keptRooms = new Set<string>();
  let stopped = false;

  for (const jid of [...staff, ...thirdParties]) {
    if (!parseJid(jid)) throw new TypeError(`not a JID: ${JSON.stringify(jid)}`);
  }

  /**
   * A staff JID is a room when its domain is a MUC service (a disco identity of category "conference"):
   * one disco#info per domain, answered once; a failed one is asked again next time.
   */
  const mucServices = new Map<string, Promise<boolean>>();
  const knownMuc = new Map<string, boolean>();
  async function isRoom(jid: string): Promise<boolean> {
    const domain = domainOf(jid)!;
    if (!parseJid(jid)?.local || domain === server) return false; // the server's own domain hosts accounts
    let probe = mucServices.get(domain);
    if (!probe) {
      probe = iq
        .get(xml("query", NS_DISCO_INFO), domain, { timeout: 30_000 })
        .then((info) => {
          const muc = !!info?.getChildren("identity").some((i) => i.attrs.category === "conference");
          knownMuc.set(domain, muc);
          return muc;
        })
        .catch((err: unknown) => {
          mucServices.delete(domain);
          log.warn({ jid, err: (err as Error).message }, "could not tell whether a staff JID is a room; treating it as a user for now");
          return false;
        });
      mucServices.set(domain, probe);
    }
    return probe;
  }

  async function keepStaffRooms() {
    for (const jid of staff) {
      if (!(await isRoom(jid)) || stopped) continue;
      const joins = joinsOf();
      if (!joins) {
        log.error({ room: jid }, "a staff JID is a MUC room, but track-muc-joins is not set up: reports cannot be posted there (enable track-muc-joins)");
        continue;
      }
      if (keptRooms.has(jid)) continue;
      keptRooms.add(jid);
      unkeep.push(joins.keep(jid, { nick: options.staffNick ?? "abuse-desk" }));
    }
  }
  const onOnline = () => void keepStaffRooms();
  lifecycle.on("online", onOnline);
  if (lifecycle.online) onOnline();

  function waitJoined(joins: StaffRoomJoins, room: string): Promise<void> {
    if (joins.isJoined(room)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        joins.off("joined", onJoined);
        reject(new Error(`not joined to the staff room within ${options.roomWaitTimeout ?? 30_000} ms`));
      }, options.roomWaitTimeout ?? 30_000);
      const onJoined = (e: { room: string }) => {
        if (e.room !== room) return;
        clearTimeout(timer);
        joins.off("joined", onJoined);
        resolve();
      };
      joins.on("joined", onJoined);
    });
  }

  async function send(message: Element, asEntity = false) {
    if (options.asServer && !asEntity) {
      if (!privilege || !server) throw new Error("report_forward_as_server needs XEP-0356 and a server domain");
      message.attrs.from = server;
      await privilege.sendMessage(message);
      return;
    }
    await stanzas.send(message); // a component's goes out from its domain (core's stanzas)
  }

  async function deliverTo(report: AcceptedReport, jid: string, audience: Audience, extra: Partial<Destination> = {}): Promise<Destination> {
    try {
      const room = audience === "staff" && (await isRoom(jid));
      const template = audience === "staff" ? (options.staffBodyTemplate ?? DEFAULT_STAFF_BODY_TEMPLATE) : (options.bodyTemplate ?? DEFAULT_BODY_TEMPLATE);
      if (room) {
        const joins = joinsOf();
        if (!joins) throw new Error("track-muc-joins is not set up");
        await keepStaffRooms();
        await waitJoined(joins, jid);
        await send(forwardMessage(report, audience, { to: jid, type: "groupchat", template }), true);
      } else {
        await send(forwardMessage(report, audience, { to: jid, template }));
      }
      return { jid, audience, ...(audience === "staff" ? { room } : {}), ...extra, ok: true };
    } catch (err) {
      const error = err instanceof StanzaError ? err.condition : (err as Error).message;
      return { jid, audience, ...extra, ok: false, error };
    }
  }

  async function forward(report: AcceptedReport, summary: ReportSummary): Promise<Destination[]> {
    const jobs: Promise<Destination>[] = staff.map((jid) => deliverTo(report, jid, "staff"));
    if (report.thirdParty || !requireOptIn) jobs.push(...thirdParties.map((jid) => deliverTo(report, jid, "third-party")));
    const originDomain = domainOf(report.reported)!;
    if (toOrigin && (report.reportOrigin || !requireOptIn)) {
      if (isLocal(originDomain, server)) {
        log.debug({ reported: report.reported }, "the reported JID is on this server: its report stays with the staff");
      } else {
        jobs.push(
          contacts.lookup(originDomain).then((c) => {
            if (c.error) log.warn({ domain: originDomain, error: c.error, fallback: c.address }, "looking up the origin's contact addresses failed");
            if (!c.address) return { jid: originDomain, audience: "origin" as const, ok: false, error: c.error ?? "the origin publishes no report or abuse address" };
            return deliverTo(report, c.address, "origin", { address: c.kind === "published" ? "published" : "fallback" });
          }),
        );
      }
    }
    const destinations = await Promise.all(jobs);
    if (!destinations.length) {
      log.warn({ id: summary.id, reported: report.reported, reportOrigin: report.reportOrigin, thirdParty: report.thirdParty }, "a report has no destination: configure report_forward_to_staff");
    }
    for (const d of destinations.filter((x) => !x.ok)) log.warn({ id: summary.id, to: d.jid, audience: d.audience, error: d.error }, "forwarding a report failed");
    emitter.emit("forwarded", { ...summary, destinations });
    return destinations;
  }

  function submit(report: AcceptedReport, source: ReportSource): SubmitResult {
    const id = randomId();
    const reject = (reason: "duplicate" | "rate-limited", error: string, retryAfterMs?: number): SubmitResult => {
      log.warn({ id, via: source.via, source: source.source, reporter: report.reporter, reported: report.reported, reason }, `report not forwarded: ${error}`);
      emitter.emit("rejected", { via: source.via, source: source.source, reason, error, id, reporter: report.reporter, reported: report.reported });
      return { status: reason, id, error, ...(retryAfterMs ? { retryAfterMs } : {}) };
    };
    const summary: ReportSummary = {
      id,
      via: source.via,
      source: source.source,
      reporter: report.reporter,
      reported: report.reported,
      reason: report.reason,
      reportOrigin: report.reportOrigin,
      thirdParty: report.thirdParty,
    };
    log.info(summary, "report received");
    emitter.emit("received", summary);
    const reportedKey = bareJid(report.reported) ?? report.reported;
    const reporterWait = report.reporter ? perReporter.retryAfter(report.reporter) : 0;
    const reportedWait = perReported.retryAfter(reportedKey);
    if (reporterWait > 0) return reject("rate-limited", `too many reports from ${report.reporter}`, reporterWait);
    if (reportedWait > 0) return reject("rate-limited", `too many reports about ${reportedKey}`, reportedWait);
    if (dedupe.seen(dedupeKey(report, source))) return reject("duplicate", "the same report was forwarded already");
    if (report.reporter) perReporter.take(report.reporter);
    perReported.take(reportedKey);
    const forwarded = forward(report, summary);
    forwarded.catch((err: unknown) => log.error({ err, id }, "forwarding a report failed"));
    return { status: "accepted", id, forwarded };
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
    let parsed;
    try {
      parsed = parseReportMessage(stanza);
    } catch (err) {
      if (!(err instanceof ReportParseError)) throw err;
      rejectIntake(stanza, "bad-request", "modify", "malformed", err.message);
      return true;
    }
    const to = parsed.forwarded?.message.attrs.to as string | undefined;
    submit({ ...parsed, element: findReport(stanza)!, reporter: bareJid(to) ?? undefined }, { via: "message", source: from });
    return true;
  });

  return extend(emitter, {
    submit,
    contacts,
    staffRooms: () => staff.filter((jid) => parseJid(jid)?.local && knownMuc.get(domainOf(jid)!)),
    stop() {
      stopped = true;
      offIncoming();
      lifecycle.off("online", onOnline);
      for (const f of unkeep.splice(0)) f();
    },
  });
}
