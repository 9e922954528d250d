// Reading a XEP-0377 report: the `<report/>` element a client attaches to a XEP-0191 block item, and the
// `<message>` Prosody's mod_report_forward sends (the report, `<jid xmlns="urn:xmpp:jid:0">`, an optional
// XEP-0297 `<forwarded>` copy of the reported message). https://xmpp.org/extensions/xep-0377.html
//
// Everything is checked: a report without a reported JID, with an unparsable one, or with a forwarded copy
// that is not a message is refused with a reason, never half-read.
import { XmppkitError, NS_DELAY, NS_FORWARD, childElements, parseJid, type Element } from "@xmppkit/core";

export const NS_REPORTING = "urn:xmpp:reporting:1";
/** XEP-0377 v0.1–0.2, still sent by older clients and accepted by Prosody. */
export const NS_REPORTING_LEGACY = "urn:xmpp:reporting:0";
export const NS_JID = "urn:xmpp:jid:0";
export const NS_SID = "urn:xmpp:sid:0";
export const REASON_SPAM = "urn:xmpp:reporting:spam";
export const REASON_ABUSE = "urn:xmpp:reporting:abuse";

export type ReportReason = "spam" | "abuse" | "unknown";

export interface StanzaIdRef {
  id: string;
  by: string;
}

export interface ParsedReport {
  reason: ReportReason;
  /** The reason as sent (a URI for :1, the child name for :0), for forwarding unchanged. */
  reasonUri: string | undefined;
  /** The reported JID (bare, full or a domain), normalised. */
  reported: string;
  /** <text> elements: language → text ("" when no xml:lang). */
  texts: Record<string, string>;
  stanzaIds: StanzaIdRef[];
  /** XEP-0377 v0.4 opt-ins. */
  reportOrigin: boolean;
  thirdParty: boolean;
  legacy: boolean;
  /** The reported message and when it was sent, if the report carried a XEP-0297 copy. */
  forwarded?: { message: Element; stamp?: Date };
}

export class ReportParseError extends XmppkitError {
  static override readonly brand = "ReportParseError";
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
  }
}

function reasonOf(report: Element, legacy: boolean): { reason: ReportReason; reasonUri: string | undefined } {
  if (legacy) {
    const child = childElements(report).find((c) => c.name === "spam" || c.name === "abuse");
    return { reason: (child?.name as ReportReason | undefined) ?? "unknown", reasonUri: child?.name };
  }
  const uri = report.attrs.reason as string | undefined;
  return { reason: uri === REASON_SPAM ? "spam" : uri === REASON_ABUSE ? "abuse" : "unknown", reasonUri: uri };
}

/** The report element of a block item or a forwarded-report message, in either namespace. */
export function findReport(parent: Element): Element | undefined {
  return parent.getChild("report", NS_REPORTING) ?? parent.getChild("report", NS_REPORTING_LEGACY);
}

/**
 * Read a `<report/>`. `reported` is the JID it is about: the block item's `jid`, or for a forwarded report the
 * `<jid xmlns="urn:xmpp:jid:0">` inside it.
 */
export function parseReport(report: Element, reported?: string): ParsedReport {
  const legacy = report.attrs.xmlns === NS_REPORTING_LEGACY;
  if (!legacy && report.attrs.xmlns !== NS_REPORTING) throw new ReportParseError(`not a XEP-0377 report: <${report.name} xmlns="${report.attrs.xmlns ?? ""}">`);
  const raw = reported ?? report.getChildText("jid", NS_JID)?.trim();
  if (!raw) throw new ReportParseError("the report names no reported JID");
  const jid = parseJid(raw);
  if (!jid) throw new ReportParseError(`the reported JID is not a valid JID: ${JSON.stringify(raw.slice(0, 100))}`);

  const texts: Record<string, string> = {};
  for (const t of report.getChildren("text")) {
    const lang = String(t.attrs["xml:lang"] ?? "");
    const value = t.getText().trim();
    if (value && !(lang in texts)) texts[lang] = value;
  }
  const stanzaIds = report
    .getChildren("stanza-id", NS_SID)
    .map((s) => ({ id: String(s.attrs.id ?? ""), by: String(s.attrs.by ?? "") }))
    .filter((s) => s.id && s.by);
  return {
    ...reasonOf(report, legacy),
    reported: jid.toString(),
    texts,
    stanzaIds,
    reportOrigin: report.getChild("report-origin") !== undefined,
    thirdParty: report.getChild("third-party") !== undefined,
    legacy,
  };
}

/** Read a `<forwarded xmlns="urn:xmpp:forward:0">`: the message and its <delay> stamp. */
export function parseForwarded(forwarded: Element): { message: Element; stamp?: Date } {
  const message = forwarded.getChild("message");
  if (!message) throw new ReportParseError("<forwarded> carries no <message>");
  const stampText = forwarded.getChild("delay", NS_DELAY)?.attrs.stamp as string | undefined;
  if (stampText === undefined) return { message };
  const stamp = new Date(stampText);
  if (Number.isNaN(stamp.getTime())) throw new ReportParseError(`<delay stamp> is not a XEP-0082 date: ${JSON.stringify(stampText.slice(0, 40))}`);
  return { message, stamp };
}

/**
 * Read the message a server's mod_report_forward sends: `<message><body/><report>…
 * <jid xmlns="urn:xmpp:jid:0"/></report><forwarded/></message>`.
 */
export function parseReportMessage(message: Element): ParsedReport {
  if (message.name !== "message") throw new ReportParseError(`expected a <message>, got <${message.name}>`);
  const report = findReport(message);
  if (!report) throw new ReportParseError('the message carries no <report xmlns="urn:xmpp:reporting:1">');
  const parsed = parseReport(report);
  const forwarded = message.getChild("forwarded", NS_FORWARD);
  return forwarded ? { ...parsed, forwarded: parseForwarded(forwarded) } : parsed;
}
