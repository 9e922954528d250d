// Taking a report in, whatever brought it (a server's message, HTTP, code): refused when a copy could not
// go on the wire, when its reporter, its reported JID or its source has had its share, or when the same
// report was taken inside the dedupe window; else stored in the outbox for delivery.
import { bareJid, randomId, wireProblem, type Logger, type StanzaRefusedError, type TypedEmitter } from "@xmppkit/core";
import { templateFor } from "./delivery-plan.js";
import { forwardMessage, type AcceptedReport, type Audience } from "./forward-message.js";
import { storeReport, type OutboxEntry } from "./outbox.js";
import { DedupeWindow, SlidingWindowLimit, type Clock } from "./report-limits.js";
import { summaryOf, type Destination, type ReportForwardEvents, type ReportSource, type SubmitResult } from "./report-types.js";

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

export interface WireCheckOptions {
  /** The `from` of a copy (the sending entity's domain). */
  from: string | undefined;
  servedDomains: ReadonlySet<string>;
  bodyTemplate?: string | undefined;
  staffBodyTemplate?: string | undefined;
  maxStanzaBytes?: number | undefined;
}

/** Would any copy of this report be refused on the wire (a forbidden character, too large)? Said at intake. */
export function wireCheck(report: AcceptedReport, options: WireCheckOptions): StanzaRefusedError | undefined {
  for (const audience of ["staff", "third-party"] as Audience[]) {
    const m = forwardMessage(report, audience, {
      to: "placeholder@example.org",
      from: options.from,
      template: templateFor(audience, options),
      servedDomains: options.servedDomains,
    });
    const problem = wireProblem(m.toString(), options.maxStanzaBytes);
    if (problem) return problem;
  }
  return undefined;
}

export interface IntakeLimitOptions {
  /** ms; 0: off (default 1 h). */
  dedupeWindow?: number | undefined;
  reporterLimit?: number | undefined;
  reportedLimit?: number | undefined;
  sourceLimit?: number | undefined;
  limitWindow?: number | undefined;
}

export interface IntakeDeps {
  emitter: Pick<TypedEmitter<ReportForwardEvents>, "emit">;
  logger: Logger;
  /** Store an accepted entry for delivery. */
  enqueue(entry: OutboxEntry): { stored: Promise<void>; forwarded: Promise<Destination[]> };
  now: Clock;
}

export type Submit = (report: AcceptedReport, source: ReportSource) => SubmitResult;

/** `submit`: a report's way in, refused or accepted. */
export function createIntake(deps: IntakeDeps, options: IntakeLimitOptions & WireCheckOptions): Submit {
  const { emitter, logger: log, now } = deps;
  const limitWindow = options.limitWindow ?? 3_600_000;
  const dedupe = new DedupeWindow(options.dedupeWindow ?? 3_600_000, now);
  const perReporter = new SlidingWindowLimit(options.reporterLimit ?? 20, limitWindow, now);
  const perReported = new SlidingWindowLimit(options.reportedLimit ?? 100, limitWindow, now);
  const perSource = new SlidingWindowLimit(options.sourceLimit ?? 500, limitWindow, now);

  return function submit(report, source) {
    const id = randomId();
    const reject = (reason: "duplicate" | "rate-limited" | "malformed" | "too-large", error: string) => {
      log.warn({ id, via: source.via, source: source.source, reporter: report.reporter, reported: report.reported, reason }, `report not forwarded: ${error}`);
      emitter.emit("rejected", { via: source.via, source: source.source, reason, error, id, reporter: report.reporter, reported: report.reported });
    };
    const problem = wireCheck(report, options);
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
    return { status: "accepted", id, ...deps.enqueue(entry) };
  };
}
