// Taking a report in, whatever brought it (the server's companion module, a server's message, HTTP, code):
// refused when a copy could not go on the wire, or when the same report was taken inside the dedupe window;
// else stored in the outbox for delivery. Staff get every accepted report; third parties and the origin
// only within the limits (report-limits.ts), decided here and stored with the report. The windows live in
// the store, so a restart or a takeover by the standby keeps counting where the last process stopped.
import { randomId, wireProblem, type Logger, type StanzaRefusedError, type TypedEmitter } from "@xmppkit/core";
import { templateFor } from "./delivery-plan.js";
import { forwardMessage, type AcceptedReport, type Audience } from "./forward-message.js";
import { storeReport, type OutboxEntry } from "./outbox.js";
import { DIGEST_DEFAULTS, burstKeys, limitChecks, limitedAudiences, type AudienceOptions, type DigestOptions, type LimitOptions } from "./report-limits.js";
import type { ReportWindows } from "./report-windows.js";
import {
  summaryOf,
  type Destination,
  type ReportForwardEvents,
  type ReportSource,
  type ReportSummary,
  type SubmitResult,
  type Withheld,
} from "./report-types.js";

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

export interface IntakeLimitOptions extends LimitOptions {
  /** ms; 0: off (default 1 h). */
  dedupeWindow?: number | undefined;
  digest?: DigestOptions | undefined;
}

export interface IntakeDeps {
  emitter: Pick<TypedEmitter<ReportForwardEvents>, "emit">;
  logger: Logger;
  /** Where the dedupe, limit and burst windows are kept (the store's, or memory). */
  windows: Promise<ReportWindows>;
  /** Store an accepted entry for delivery. */
  enqueue(entry: OutboxEntry): { stored: Promise<void>; forwarded: Promise<Destination[]> };
  now: () => number;
}

export type Submit = (report: AcceptedReport, source: ReportSource) => Promise<SubmitResult>;

function wireRefusal(problem: StanzaRefusedError): { status: "too-large" | "invalid"; error: string } {
  const detail = problem.message.replace(/^refused to send [^:]*: /, "");
  return problem.reason === "too-large"
    ? { status: "too-large", error: `the report is too large to forward over XMPP (${detail})` }
    : { status: "invalid", error: `the report holds a character XML forbids (${detail})` };
}

/** A report is received once it is stored: one that could not be (its submitter was told to send it again) is not. */
function receivedOnceStored(stored: Promise<void>, { emitter, logger }: Pick<IntakeDeps, "emitter" | "logger">, summary: ReportSummary): void {
  stored.then(
    () => {
      logger.info(summary, "report received");
      emitter.emit("received", summary);
    },
    () => undefined,
  );
}

/** `submit`: a report's way in, refused or accepted. */
export function createIntake(deps: IntakeDeps, options: IntakeLimitOptions & WireCheckOptions & AudienceOptions): Submit {
  const { emitter, logger: log, now } = deps;
  const dedupeWindow = options.dedupeWindow ?? 3_600_000;
  /** Reports being stored, by dedupe key. */
  const storing = new Map<string, Promise<void>>();
  const digest = { ...DIGEST_DEFAULTS, ...Object.fromEntries(Object.entries(options.digest ?? {}).filter(([, v]) => v !== undefined)) };

  /** The audiences a limit holds `report` back from; a limit that cannot be read holds it back too. */
  async function withheldFrom(windows: ReportWindows, report: AcceptedReport, source: ReportSource): Promise<Withheld[]> {
    const out: Withheld[] = [];
    for (const audience of limitedAudiences(report, options)) {
      const checks = limitChecks(audience, report, source, options);
      const taken = await windows.take(checks).catch((err: unknown) => {
        log.error({ err, audience }, "the report limits could not be read; the report goes to staff only");
        return { ok: false as const, key: "", retryAfterMs: 0 };
      });
      if (!taken.ok) out.push({ audience, reason: checks.find((c) => c.key === taken.key)?.reason ?? "the limits could not be read" });
    }
    return out;
  }

  /** The burst this report is part of, if the sender (or the reported JID) has sent more than `after` lately. */
  async function burstOf(windows: ReportWindows, report: AcceptedReport, source: ReportSource): Promise<OutboxEntry["digest"]> {
    if (!digest.after) return undefined;
    const keys = burstKeys(report, source);
    const counts = await Promise.all(keys.map((k) => windows.hit(`burst ${k}`, digest.window))).catch(() => keys.map(() => 0));
    const i = counts.findIndex((n) => n > digest.after);
    return i < 0 ? undefined : { key: keys[i]!, count: counts[i]! };
  }

  return async function submit(report, source) {
    const id = randomId();
    const context = { id, via: source.via, source: source.source, reporter: report.reporter, reported: report.reported };
    const reject = (reason: "duplicate" | "malformed" | "too-large", error: string) => {
      log.warn({ ...context, reason }, `report not forwarded: ${error}`);
      emitter.emit("rejected", { ...context, reason, error });
    };
    const problem = wireCheck(report, options);
    if (problem) {
      const refusal = wireRefusal(problem);
      reject(refusal.status === "too-large" ? "too-large" : "malformed", refusal.error);
      return { ...refusal, id };
    }
    const windows = await deps.windows;
    const key = dedupeKey(report, source);
    if (key !== undefined && (await windows.seen(`dedupe ${key}`, dedupeWindow).catch(() => false))) {
      // The same report still being stored (a sender that timed out and sent it again): a duplicate only once
      // the first copy is stored; if storing it failed, this copy is taken instead.
      const first = storing.get(key);
      if (
        !first ||
        (await first.then(
          () => true,
          () => false,
        ))
      ) {
        reject("duplicate", "the same report was forwarded already");
        return { status: "duplicate", id, error: "the same report was forwarded already" };
      }
    }
    const withheld = await withheldFrom(windows, report, source);
    for (const w of withheld)
      log.warn({ ...context, audience: w.audience }, `report held back from ${w.audience === "origin" ? "the origin" : "third parties"}: ${w.reason}`);
    const burst = await burstOf(windows, report, source);
    const at = now();
    const entry: OutboxEntry = {
      id,
      acceptedAt: at,
      report: storeReport(report),
      source: { via: source.via, source: source.source, ...(source.session ? { session: source.session } : {}) },
      ...(withheld.length ? { withheld } : {}),
      ...(burst ? { digest: burst } : {}),
      done: [],
      attempts: 0,
      nextAt: burst ? at + digest.delay : at,
    };
    const queued = deps.enqueue(entry);
    receivedOnceStored(queued.stored, deps, summaryOf(id, report, source));
    if (key !== undefined) {
      storing.set(key, queued.stored);
      queued.stored.then(
        () => storing.delete(key),
        // Not stored: the same report sent again (an HTTP client retrying a 503) must not count as a duplicate.
        () => {
          storing.delete(key);
          return windows.forget(`dedupe ${key}`).catch(() => undefined);
        },
      );
    }
    return { status: "accepted", id, withheld, ...queued };
  };
}
