// What report-forward says about a report: where it came from, where it went, why it went nowhere. Shared
// by the intake, the delivery rounds and the handle's events.
import type { AcceptedReport, Audience } from "./forward-message.js";

/** message: mod_report_forward's message; handover: the server's companion module (IQ, reporter named); http; api. */
export type IntakeVia = "message" | "handover" | "http" | "api";

/** Where a report came from. */
export interface ReportSource {
  via: IntakeVia;
  /** The sending JID (message), the caller's IP (http), or a label (api). */
  source: string;
  /** The id of the source's message (message intake): what tells one report from another when nobody is named. */
  messageId?: string | undefined;
  /** The reporting session or resource, when the source names one: what limits use when no reporter is named. */
  session?: string | undefined;
}

/** An audience a report was not sent to because a limit held it back (staff are never held back). */
export interface Withheld {
  audience: "third-party" | "origin";
  /** Which limit, in words ("10 reports from dave@example.org in 1 h"). */
  reason: string;
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
  /** Not sent: a limit held the report back from this audience (`error` says which). */
  withheld?: boolean;
  /** For staff: sent in a digest with the other reports of a burst. */
  digest?: boolean;
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
  /** Audiences a limit held the report back from (staff get it all the same). */
  withheld?: Withheld[] | undefined;
}

export type RejectReason = "unlisted-source" | "malformed" | "too-large" | "duplicate";

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
      /** Audiences a limit holds this report back from; staff get it all the same. */
      withheld: Withheld[];
    }
  | { status: "duplicate"; id: string; error: string }
  | { status: "invalid" | "too-large"; id: string; error: string };

/** What the events say about report `id`. */
export function summaryOf(id: string, report: AcceptedReport, source: Pick<ReportSource, "via" | "source">, withheld?: Withheld[]): ReportSummary {
  return {
    id,
    via: source.via,
    source: source.source,
    reporter: report.reporter,
    reported: report.reported,
    reason: report.reason,
    reportOrigin: report.reportOrigin,
    thirdParty: report.thirdParty,
    ...(withheld?.length ? { withheld } : {}),
  };
}
