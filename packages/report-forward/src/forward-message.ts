// The message a report is forwarded in: the seed's format, so whatever reads Prosody's
// forwarded reports reads ours, with its leaks fixed:
//
//   <message from="…" to="…" id="…"><body>…</body>
//     <report xmlns="urn:xmpp:reporting:1" reason="…">…<jid xmlns="urn:xmpp:jid:0">reported</jid></report>
//     <forwarded xmlns="urn:xmpp:forward:0"><delay stamp="…"/><message from="reported" …>…</message></forwarded>
//   </message>
//
// - Outside the operator's own staff, nobody learns who reported: the forwarded message loses its `to`
//   (XEP-0377 v0.4.1: the only acceptable anonymisation; the seed kept it), and nothing else in any copy may
//   name an account of the served domains but the reported one: a stanza-id whose `by` is such an account
//   (XEP-0359's reading: the reporter's own archive) is left out, and so is any attribute that names one.
// - The reported message's time is only stated when known (the seed printed "now" when it was not).
import { NS_DELAY, NS_FORWARD, bareJid, formatDateTime, parseJid, randomId, xml, type Element } from "@xmppkit/core";
import { renderTemplate, type TemplateVars } from "./body-template.js";
import { NS_JID, NS_SID, type ParsedReport } from "./report.js";

/** Who reads the forward: the operator's staff see everything; others never learn who reported. */
export type Audience = "staff" | "third-party" | "origin";

/** A report accepted for forwarding. */
export interface AcceptedReport extends ParsedReport {
  /** The report element as received (or built from HTTP), forwarded with its children. */
  element: Element;
  /** The reporter's bare JID, when the source names one (or the stanza allows deriving it). */
  reporter: string | undefined;
  /** Who reported, in words, when the JID is not known ("a user of localhost; the server did not name them"). */
  reporterHint?: string | undefined;
}

/** A copy of `el` built with xml() (never ltx's own class), leaving out children `drop` picks. */
export function copyElement(el: Element, drop: (child: Element) => boolean = () => false, attrs: Record<string, string | undefined> = el.attrs): Element {
  const children: (Element | string)[] = [];
  for (const c of el.children as (Element | string)[]) {
    if (typeof c === "string") children.push(c);
    else if (!drop(c)) children.push(copyElement(c, drop));
  }
  const kept = Object.fromEntries(Object.entries(attrs).filter(([, v]) => v !== undefined)) as Record<string, string>;
  return xml(el.name, kept, ...children);
}

/**
 * Does `value` name someone who must stay private from this audience: an account of a served domain other
 * than the reported one, or the reporter wherever they are?
 */
export type PrivateJid = (value: string | undefined) => boolean;

export function privateJids(report: AcceptedReport, servedDomains: ReadonlySet<string>): PrivateJid {
  const reported = bareJid(report.reported);
  const reporter = report.reporter ? bareJid(report.reporter) : null;
  return (value) => {
    const j = parseJid(value);
    if (!j?.local) return false;
    const bare = j.bare().toString();
    return bare !== reported && (bare === reporter || servedDomains.has(j.domain));
  };
}

/** A copy of `el` without what names a private JID: stanza-ids by one are left out, other attributes dropped. */
function scrubbed(el: Element, isPrivate: PrivateJid, attrs: Record<string, string | undefined> = el.attrs): Element {
  const children: (Element | string)[] = [];
  for (const c of el.children as (Element | string)[]) {
    if (typeof c === "string") children.push(c);
    else if (!(c.name === "stanza-id" && c.attrs.xmlns === NS_SID && isPrivate(c.attrs.by))) children.push(scrubbed(c, isPrivate));
  }
  const kept = Object.fromEntries(Object.entries(attrs).filter(([, v]) => v !== undefined && !isPrivate(v))) as Record<string, string>;
  return xml(el.name, kept, ...children);
}

/** The template variables of a report. */
export function templateVars(report: AcceptedReport, audience: Audience): TemplateVars {
  const texts = Object.values(report.texts);
  const optIns = [report.reportOrigin && "the reported JID's server", report.thirdParty && "third parties"].filter(Boolean);
  const body = report.forwarded?.message.getChildText("body") ?? undefined;
  return {
    reported_jid: report.reported,
    reporter_jid: audience === "staff" ? report.reporter : undefined,
    reporter: audience === "staff" ? (report.reporter ?? report.reporterHint ?? "not given by the source") : undefined,
    reason: report.reason === "unknown" ? undefined : report.reason === "spam" ? "Spam" : "Abuse",
    text: audience === "staff" ? (report.texts.en ?? report.texts[""] ?? texts[0]) : undefined,
    reported_message_time: report.forwarded?.stamp && formatDateTime(report.forwarded.stamp),
    reported_message_body: audience === "staff" && body ? body.replace(/\n/g, "\n> ") : undefined,
    opt_ins: optIns.join(" and ") || undefined,
  };
}

/** The `<report>` to forward: the received one, with `<jid>` last as in the seed. */
function reportCopy(report: AcceptedReport, audience: Audience, isPrivate: PrivateJid): Element {
  const noJid = (c: Element) => !(c.name === "jid" && c.attrs.xmlns === NS_JID);
  const base = copyElement(report.element, (c) => !noJid(c));
  const copy = audience === "staff" ? base : scrubbed(base, isPrivate);
  copy.append(xml("jid", NS_JID, report.reported));
  return copy;
}

function forwardedCopy(report: AcceptedReport, audience: Audience, isPrivate: PrivateJid): Element | undefined {
  const fwd = report.forwarded;
  if (!fwd) return undefined;
  // Outside the staff, only a message the reported JID sent is evidence (not, say, the reporter's own words to them).
  if (audience !== "staff" && bareJid(fwd.message.attrs.from as string | undefined) !== bareJid(report.reported)) return undefined;
  // Inside <forwarded> the message is a jabber:client stanza whatever stream it came over.
  const attrs = { ...fwd.message.attrs, xmlns: "jabber:client" };
  const message = audience === "staff" ? copyElement(fwd.message, () => false, attrs) : scrubbed(fwd.message, isPrivate, { ...attrs, to: undefined });
  const stamp = fwd.stamp && formatDateTime(fwd.stamp);
  return xml("forwarded", NS_FORWARD, ...(stamp ? [xml("delay", { xmlns: NS_DELAY, stamp })] : []), message);
}

export interface ForwardMessageOptions {
  to: string;
  from?: string | undefined;
  /** "groupchat" for a staff room. */
  type?: "groupchat" | undefined;
  template: string;
  /** The server's domains: their accounts (but the reported one) never appear in a copy outside the staff. */
  servedDomains?: ReadonlySet<string> | undefined;
}

export function forwardMessage(report: AcceptedReport, audience: Audience, options: ForwardMessageOptions): Element {
  const attrs: Record<string, string> = { to: options.to, id: randomId() };
  if (options.from) attrs.from = options.from;
  if (options.type) attrs.type = options.type;
  const isPrivate = privateJids(report, options.servedDomains ?? new Set());
  const forwarded = forwardedCopy(report, audience, isPrivate);
  return xml(
    "message",
    attrs,
    xml("body", {}, renderTemplate(options.template, templateVars(report, audience))),
    reportCopy(report, audience, isPrivate),
    ...(forwarded ? [forwarded] : []),
  );
}

/** One report of a staff digest. */
export interface DigestItem {
  id: string;
  report: AcceptedReport;
  /** Audiences a limit held it back from, in words. */
  withheld?: readonly { audience: string; reason: string }[] | undefined;
}

export interface DigestOptions {
  to: string;
  type?: "groupchat" | undefined;
  /** The first line: what the burst is ("37 reports from dave@example.org (40 in the last 10 min)"). */
  heading: string;
}

/** `text` on one line, at most `n` characters (whole code points: never half an emoji, which XML forbids). */
const clip = (text: string, n: number) => {
  const chars = Array.from(text.replace(/\s+/g, " "));
  return chars.length > n ? `${chars.slice(0, n).join("")}…` : chars.join("");
};

/** One line of a digest's body: what was reported, by whom, in the reporter's words. */
function digestLine(n: number, item: DigestItem): string {
  const { report } = item;
  const v = templateVars(report, "staff");
  const said = v.text ? `: "${clip(v.text, 200)}"` : "";
  const message = v.reported_message_body ? ` (message: "${clip(v.reported_message_body, 120)}")` : "";
  const held = item.withheld?.length ? ` [held back from ${item.withheld.map((w) => w.audience).join(" and ")}]` : "";
  const by = report.reporter ? `, by ${report.reporter}` : ""; // the heading says when nobody was named
  return `${n}. ${v.reason ?? "Report"} about ${report.reported}${by}${said}${message}${held}`;
}

/**
 * A digest for staff: one message listing every report of a burst, each also attached as its XEP-0377
 * `<report/>` (with `<jid/>`) so that tools still read them one by one.
 */
export function digestMessage(items: readonly DigestItem[], options: DigestOptions, first = 1): Element {
  const attrs: Record<string, string> = { to: options.to, id: randomId() };
  if (options.type) attrs.type = options.type;
  const lines = items.map((item, i) => digestLine(first + i, item));
  const body = `${options.heading}\n${lines.join("\n")}`;
  return xml("message", attrs, xml("body", {}, body), ...items.map((item) => reportCopy(item.report, "staff", () => false)));
}
