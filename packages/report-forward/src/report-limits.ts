// Which limits a report must pass to reach third parties and the origin, and which burst it belongs to.
// Staff are never limited: a flood is what the abuse desk must see. Every key names one person (the
// reporter, or the session that reported) or one reported JID, so one user's flood never uses up anyone
// else's share; there is no budget per server. Where the server does not name the reporter, a person
// cannot be told from another: reports about one JID then share a small allowance.
import { bareJid, domainOf } from "@xmppkit/core";
import { isLocal } from "./delivery-plan.js";
import type { AcceptedReport } from "./forward-message.js";
import type { WindowCheck } from "./report-windows.js";
import type { ReportSource, Withheld } from "./report-types.js";

export interface LimitOptions {
  /** Reports one reporter (or one reporting session) sends on per window, per audience (default 10; 0: no limit). */
  reporterLimit?: number | undefined;
  /** Reports about one JID sent on per window, per audience (default 30; 0: no limit). */
  reportedLimit?: number | undefined;
  /** Reports about one JID from reporters nobody named, sent on per window, per audience (default 3; 0: no limit). */
  unattributedLimit?: number | undefined;
  /** ms (default 1 h). */
  limitWindow?: number | undefined;
}

export const LIMIT_DEFAULTS = { reporterLimit: 10, reportedLimit: 30, unattributedLimit: 3, limitWindow: 3_600_000 } as const;

/** Who may receive a report beyond staff, as configured. */
export interface AudienceOptions {
  thirdParties?: readonly string[] | undefined;
  requireOptIn?: boolean | undefined;
  toOrigin?: boolean | undefined;
  /** The server's domain: a reported JID there never goes to an origin. */
  server?: string | undefined;
}

export type LimitCheck = WindowCheck & { reason: string };

/** The audiences beyond staff that this report would reach (the ones its limits apply to). */
export function limitedAudiences(report: AcceptedReport, options: AudienceOptions): Withheld["audience"][] {
  const requireOptIn = options.requireOptIn ?? true;
  const out: Withheld["audience"][] = [];
  if (options.thirdParties?.length && (report.thirdParty || !requireOptIn)) out.push("third-party");
  const origin = domainOf(report.reported);
  if ((options.toOrigin ?? true) && (report.reportOrigin || !requireOptIn) && origin && !isLocal(origin, options.server)) out.push("origin");
  return out;
}

/** "1 h", "10 min", "45 s": a window in words. */
export function inWords(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Math.round(ms / 1000)} s`;
}

const reports = (n: number) => `${n} report${n === 1 ? "" : "s"}`;

/** Who sent a report, as a limit key: the reporter, else the reporting session; undefined when nobody is named. */
export function senderKey(report: Pick<AcceptedReport, "reporter">, source: Pick<ReportSource, "source" | "session">): string | undefined {
  if (report.reporter) return `reporter ${bareJid(report.reporter) ?? report.reporter}`;
  return source.session ? `session ${source.source} ${source.session}` : undefined;
}

/** The checks `report` must pass to reach `audience`. */
export function limitChecks(audience: Withheld["audience"], report: AcceptedReport, source: ReportSource, options: LimitOptions): LimitCheck[] {
  const windowMs = options.limitWindow ?? LIMIT_DEFAULTS.limitWindow;
  const per = inWords(windowMs);
  const reported = bareJid(report.reported) ?? report.reported;
  const sender = senderKey(report, source);
  const reportedLimit = options.reportedLimit ?? LIMIT_DEFAULTS.reportedLimit;
  const checks: LimitCheck[] = [];
  if (sender) {
    const limit = options.reporterLimit ?? LIMIT_DEFAULTS.reporterLimit;
    const who = report.reporter ? (bareJid(report.reporter) ?? report.reporter) : "one reporting session";
    checks.push({ key: `${audience} ${sender}`, limit, windowMs, reason: `${reports(limit)} from ${who} in ${per} (report_forward_reporter_limit)` });
  } else {
    const limit = options.unattributedLimit ?? LIMIT_DEFAULTS.unattributedLimit;
    checks.push({
      key: `${audience} unattributed ${reported}`,
      limit,
      windowMs,
      reason: `${reports(limit)} about ${reported} from reporters the server did not name in ${per} (report_forward_unattributed_limit)`,
    });
  }
  checks.push({
    key: `${audience} reported ${reported}`,
    limit: reportedLimit,
    windowMs,
    reason: `${reports(reportedLimit)} about ${reported} in ${per} (report_forward_reported_limit)`,
  });
  return checks.filter((c) => c.limit > 0);
}

export interface DigestOptions {
  /** Reports of one burst sent to staff one by one before the rest wait for a digest (default 3; 0: never a digest). */
  after?: number | undefined;
  /** How far back a burst is counted, ms (default 10 min). */
  window?: number | undefined;
  /** How long a report of a burst waits for others before the digest goes, ms (default 30 s). */
  delay?: number | undefined;
}

export const DIGEST_DEFAULTS = { after: 3, window: 600_000, delay: 30_000 } as const;

/**
 * The bursts a report counts in: its sender's (or, nobody being named, its source's) and its reported JID's.
 * The first is what a digest is keyed by when both are bursts.
 */
export function burstKeys(report: AcceptedReport, source: ReportSource): string[] {
  const reported = bareJid(report.reported) ?? report.reported;
  return [senderKey(report, source) ?? `unnamed ${source.via} ${source.source}`, `reported ${reported}`];
}
