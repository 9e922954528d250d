import { setupKit, xml, type XmppEntity } from "@xmppkit/core";
import { mockClient } from "@xmppkit/testing";
import { describe, expect, it } from "vitest";
import { NS_BLOCKING, blockWithReports, fileReport, reportElement } from "./block-report.js";
import { NS_REPORTING, REASON_ABUSE, REASON_SPAM, parseReport } from "./report.js";

describe("the XEP-0191 + XEP-0377 report builder", () => {
  it("builds every element, and reads back the same", () => {
    const report = reportElement({
      jid: "spammer@bad.example",
      reason: "spam",
      text: { en: "Buy now", de: "Jetzt kaufen" },
      stanzaIds: [{ by: "spammer@bad.example", id: "s1" }],
      reportOrigin: true,
      thirdParty: true,
    });
    expect(report.toString()).toBe(
      `<report xmlns="${NS_REPORTING}" reason="${REASON_SPAM}"><text xml:lang="en">Buy now</text><text xml:lang="de">Jetzt kaufen</text>` +
        `<stanza-id xmlns="urn:xmpp:sid:0" by="spammer@bad.example" id="s1"/><report-origin/><third-party/></report>`,
    );
    expect(parseReport(report, "spammer@bad.example")).toMatchObject({
      reason: "spam",
      texts: { en: "Buy now", de: "Jetzt kaufen" },
      reportOrigin: true,
      thirdParty: true,
    });
  });

  it("opt-ins are left out unless given; a string text takes `lang`", () => {
    const report = reportElement({ jid: "x@y", reason: "abuse", text: "rude", lang: "en" });
    expect(report.attrs.reason).toBe(REASON_ABUSE);
    expect(report.getChild("report-origin")).toBeUndefined();
    expect(report.getChild("third-party")).toBeUndefined();
    expect(report.getChild("text")?.attrs["xml:lang"]).toBe("en");
  });

  it("refuses a bad JID, a missing reason, a stanza-id without `by`", () => {
    expect(() => blockWithReports([{ jid: "@@@", reason: "spam" }])).toThrow(/not a JID/);
    expect(() => reportElement({ jid: "x@y", reason: "" })).toThrow(/reason/);
    expect(() => reportElement({ jid: "x@y", reason: "spam", stanzaIds: [{ by: "", id: "1" }] })).toThrow(/stanza-id/);
    expect(() => blockWithReports([])).toThrow(/nothing/);
  });

  it("fileReport sends one block IQ to the user's own account and waits for the server", async () => {
    const mock = await mockClient<XmppEntity>({ jid: "bot@localhost/r1" });
    const kit = setupKit(mock.entity, { ping: { interval: 0 } });
    mock.replyToIq((s) => s.getChild("block", NS_BLOCKING) !== undefined, true);
    await fileReport(kit, { jid: "spammer@bad.example", reason: "spam" }, { jid: "troll@bad.example", reason: "abuse", thirdParty: true });
    const iq = mock.sent.find((s) => s.name === "iq")!;
    expect(iq.attrs).toMatchObject({ type: "set" });
    expect(iq.attrs.to).toBeUndefined();
    expect(
      iq
        .getChild("block", NS_BLOCKING)
        ?.getChildren("item")
        .map((i) => i.attrs.jid),
    ).toEqual(["spammer@bad.example", "troll@bad.example"]);
  });

  it("fileReport rejects with the server's error", async () => {
    const mock = await mockClient<XmppEntity>({ jid: "bot@localhost/r1" });
    const kit = setupKit(mock.entity, { ping: { interval: 0 } });
    mock.replyToIq(() => true, xml("error", { type: "cancel" }, xml("feature-not-implemented", "urn:ietf:params:xml:ns:xmpp-stanzas")));
    await expect(fileReport(kit, { jid: "s@b", reason: "spam" })).rejects.toMatchObject({ condition: "feature-not-implemented" });
  });
});
