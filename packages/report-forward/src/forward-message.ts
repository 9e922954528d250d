// The message a report is forwarded in: the seed's format (modules-spec §5.3), so whatever reads Prosody's
// forwarded reports reads ours, with its leaks fixed:
//
//   <message from="…" to="…" id="…"><body>…</body>
//     <report xmlns="urn:xmpp:reporting:1" reason="…">…<jid xmlns="urn:xmpp:jid:0">reported</jid></report>
//     <forwarded xmlns="urn:xmpp:forward:0"><delay stamp="…"/><message from="reported" …>…</message></forwarded>
//   </message>
//
// - Outside the operator's own staff, the reporter is hidden: the forwarded message loses its `to` (XEP-0377
//   v0.4.1: the only acceptable anonymisation; the seed kept it), and stanza-ids the reporter's side
//   assigned (`by` = the reporter) are left out of both the report and the copy.
// - The reported message's time is only stated when known (the seed printed "now" when it was not).
import { NS_DELAY, NS_FORWARD, bareJid, formatDateTime, randomId, xml, type Element } from "@xmppkit/core";
import { renderTemplate, type TemplateVars } from "./body-template.js";
import { NS_JID, NS_SID, type ParsedReport } from "./report.js";

/** Who reads the forward: the operator's staff see everything; others never learn who reported. */
export type Audience = "staff" | "third-party" | "origin";

/** A report accepted for forwarding. */
export interface AcceptedReport extends ParsedReport {
  /** The report element as received (or built from HTTP), forwarded with its children. */
  element: Element;
  /** The reporter's bare JID, when the source names one. */
  reporter: string | undefined;
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

function reporterSideId(reporter: string | undefined) {
  const r = reporter ? bareJid(reporter) : null;
  return (c: Element) => c.name === "stanza-id" && c.attrs.xmlns === NS_SID && !!r && bareJid(c.attrs.by) === r;
}

/** The template variables of a report. */
export function templateVars(report: AcceptedReport, audience: Audience): TemplateVars {
  const texts = Object.values(report.texts);
  const optIns = [report.reportOrigin && "the reported JID's server", report.thirdParty && "third parties"].filter(Boolean);
  const body = report.forwarded?.message.getChildText("body") ?? undefined;
  return {
    reported_jid: report.reported,
    reporter_jid: audience === "staff" ? report.reporter : undefined,
    reason: report.reason === "unknown" ? undefined : report.reason === "spam" ? "Spam" : "Abuse",
    text: audience === "staff" ? (report.texts.en ?? report.texts[""] ?? texts[0]) : undefined,
    reported_message_time: report.forwarded?.stamp && formatDateTime(report.forwarded.stamp),
    reported_message_body: audience === "staff" && body ? body.replace(/\n/g, "\n> ") : undefined,
    opt_ins: optIns.join(" and ") || undefined,
  };
}

/** The `<report>` to forward: the received one, with `<jid>` last as in the seed. */
function reportCopy(report: AcceptedReport, audience: Audience): Element {
  const dropReporterIds = audience === "staff" ? () => false : reporterSideId(report.reporter);
  const copy = copyElement(report.element, (c) => (c.name === "jid" && c.attrs.xmlns === NS_JID) || dropReporterIds(c));
  copy.append(xml("jid", NS_JID, report.reported));
  return copy;
}

function forwardedCopy(report: AcceptedReport, audience: Audience): Element | undefined {
  const fwd = report.forwarded;
  if (!fwd) return undefined;
  // Inside <forwarded> the message is a jabber:client stanza whatever stream it came over.
  const attrs = { ...fwd.message.attrs, xmlns: "jabber:client" };
  const message =
    audience === "staff"
      ? copyElement(fwd.message, () => false, attrs)
      : copyElement(fwd.message, reporterSideId(report.reporter), { ...attrs, to: undefined });
  const stamp = fwd.stamp && formatDateTime(fwd.stamp);
  return xml("forwarded", NS_FORWARD, ...(stamp ? [xml("delay", { xmlns: NS_DELAY, stamp })] : []), message);
}

export interface ForwardMessageOptions {
  to: string;
  from?: string | undefined;
  /** "groupchat" for a staff room. */
  type?: "groupchat" | undefined;
  template: string;
}

export function forwardMessage(report: AcceptedReport, audience: Audience, options: ForwardMessageOptions): Element {
  const attrs: Record<string, string> = { to: options.to, id: randomId() };
  if (options.from) attrs.from = options.from;
  if (options.type) attrs.type = options.type;
  const forwarded = forwardedCopy(report, audience);
  return xml(
    "message",
    attrs,
    xml("body", {}, renderTemplate(options.template, templateVars(report, audience))),
    reportCopy(report, audience),
    ...(forwarded ? [forwarded] : []),
  );
}
