import { NS_DELAY, NS_FORWARD, xml } from "@xmppkit/core";
import { describe, expect, it } from "vitest";
import { NS_JID, NS_REPORTING, NS_REPORTING_LEGACY, NS_SID, REASON_SPAM, ReportParseError, parseReport, parseReportMessage } from "./report.js";

/** The message Prosody's mod_report_forward sends. */
const prosodyForward = (...extra: ReturnType<typeof xml>[]) =>
  xml(
    "message",
    { from: "example.org", id: "r1", to: "gateway.example.org" },
    xml("body", {}, "SPAM/ABUSE REPORT …"),
    xml(
      "report",
      { xmlns: NS_REPORTING, reason: REASON_SPAM },
      xml("text", { "xml:lang": "en" }, "Never came trouble to my house like this."),
      xml("stanza-id", { xmlns: NS_SID, by: "spammer@bad.example", id: "28482-98726-73623" }),
      ...extra,
      xml("jid", NS_JID, "spammer@bad.example"),
    ),
    xml(
      "forwarded",
      NS_FORWARD,
      xml("delay", { xmlns: NS_DELAY, stamp: "2024-11-20T10:11:12Z" }),
      xml("message", { xmlns: "jabber:client", from: "spammer@bad.example/res", to: "victim@example.org/phone", type: "chat" }, xml("body", {}, "Spam…")),
    ),
  );

describe("parseReportMessage: the format Prosody's mod_report_forward sends", () => {
  it("reads every element", () => {
    const r = parseReportMessage(prosodyForward());
    expect(r).toMatchObject({
      reason: "spam",
      reasonUri: REASON_SPAM,
      reported: "spammer@bad.example",
      texts: { en: "Never came trouble to my house like this." },
      stanzaIds: [{ id: "28482-98726-73623", by: "spammer@bad.example" }],
      reportOrigin: false,
      thirdParty: false,
      legacy: false,
    });
    expect(r.forwarded!.stamp!.toISOString()).toBe("2024-11-20T10:11:12.000Z");
    expect(r.forwarded!.message.getChildText("body")).toBe("Spam…");
  });

  it("reads the v0.4 opt-ins", () => {
    const r = parseReportMessage(prosodyForward(xml("report-origin"), xml("third-party")));
    expect(r).toMatchObject({ reportOrigin: true, thirdParty: true });
  });

  it("an unknown or missing reason is `unknown`, and still a report (RF-1)", () => {
    const report = xml("report", { xmlns: NS_REPORTING }, xml("jid", NS_JID, "a@b.example"));
    expect(parseReport(report)).toMatchObject({ reason: "unknown", reasonUri: undefined });
    expect(parseReport(xml("report", { xmlns: NS_REPORTING, reason: "urn:example:other" }, xml("jid", NS_JID, "a@b.example"))).reason).toBe("unknown");
  });

  it("the legacy :0 namespace with <spam/> / <abuse/>", () => {
    const r = parseReport(xml("report", { xmlns: NS_REPORTING_LEGACY }, xml("abuse"), xml("text", {}, "rude")), "troll@x.example/r");
    expect(r).toMatchObject({ reason: "abuse", legacy: true, reported: "troll@x.example/r", texts: { "": "rude" } });
  });

  it.each([
    ["no report", xml("message", {}, xml("body", {}, "hi")), /no <report/],
    ["no reported JID", xml("message", {}, xml("report", { xmlns: NS_REPORTING, reason: REASON_SPAM })), /names no reported JID/],
    ["an invalid JID", xml("message", {}, xml("report", { xmlns: NS_REPORTING }, xml("jid", NS_JID, "@@@"))), /not a valid JID/],
    [
      "a forwarded without message",
      xml("message", {}, xml("report", { xmlns: NS_REPORTING }, xml("jid", NS_JID, "a@b")), xml("forwarded", NS_FORWARD)),
      /carries no <message>/,
    ],
    [
      "a bad delay stamp",
      xml(
        "message",
        {},
        xml("report", { xmlns: NS_REPORTING }, xml("jid", NS_JID, "a@b")),
        xml("forwarded", NS_FORWARD, xml("delay", { xmlns: NS_DELAY, stamp: "yesterday" }), xml("message")),
      ),
      /not a XEP-0082 date/,
    ],
    ["not a message", xml("iq"), /expected a <message>/],
  ])("refuses %s with a reason", (_what, stanza, message) => {
    expect(() => parseReportMessage(stanza)).toThrow(ReportParseError);
    expect(() => parseReportMessage(stanza)).toThrow(message);
  });

  it("ignores empty texts and stanza-ids without id or by; keeps the first text per language", () => {
    const r = parseReport(
      xml(
        "report",
        { xmlns: NS_REPORTING, reason: REASON_SPAM },
        xml("text", {}, "  "),
        xml("text", { "xml:lang": "de" }, "eins"),
        xml("text", { "xml:lang": "de" }, "zwei"),
        xml("stanza-id", { xmlns: NS_SID, id: "x" }),
        xml("jid", NS_JID, "A@B.example"),
      ),
    );
    expect(r).toMatchObject({ texts: { de: "eins" }, stanzaIds: [], reported: "a@b.example" });
  });
});
