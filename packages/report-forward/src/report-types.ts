// What report-forward says about a report: where it came from, where it went, why it went nowhere. Shared
// by the intake, the delivery rounds and the handle's events.
import type { AcceptedReport, Audience } from "./forward-message.js";

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

/** What the events say about report `id`. */
export function summaryOf(id: string, report: AcceptedReport, source: Pick<ReportSource, "via" | "source">): ReportSummary {
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
