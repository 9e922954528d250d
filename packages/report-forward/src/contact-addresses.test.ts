import { NS_DATA, xml, type Element } from "@xmppkit/core";
import { describe, expect, it } from "vitest";
import { SERVERINFO_FORM_TYPE, reportAddress, serverInfoFields, xmppAddress } from "./contact-addresses.js";

const field = (name: string, ...values: string[]) => xml("field", { var: name, type: "list-multi" }, ...values.map((v) => xml("value", {}, v)));
const form = (formType: string, ...fields: Element[]) =>
  xml("x", { xmlns: NS_DATA, type: "result" }, xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", {}, formType)), ...fields);
const discoInfo = (...forms: Element[]) =>
  xml("iq", { type: "result" }, xml("query", "http://jabber.org/protocol/disco#info", xml("identity", { category: "server", type: "im" }), ...forms));

describe("XEP-0157 report address", () => {
  it("report-addresses before abuse-addresses, whatever their order in the form", () => {
    const info = discoInfo(
      form(SERVERINFO_FORM_TYPE, field("abuse-addresses", "xmpp:abuse@example.org"), field("report-addresses", "xmpp:reports@example.org")),
    );
    expect(reportAddress(info)).toBe("reports@example.org");
    expect(reportAddress(discoInfo(form(SERVERINFO_FORM_TYPE, field("abuse-addresses", "xmpp:abuse@example.org"))))).toBe("abuse@example.org");
  });

  it("skips mailto:, https:, xmpp: with a query, and the authority form; takes the first acceptable", () => {
    const info = discoInfo(
      form(
        SERVERINFO_FORM_TYPE,
        field(
          "abuse-addresses",
          "mailto:abuse@example.org",
          "https://example.org/abuse",
          "xmpp:abuse@example.org?message",
          "xmpp://abuse@example.org",
          "xmpp:second@example.org",
          "xmpp:third@example.org",
        ),
      ),
    );
    expect(reportAddress(info)).toBe("second@example.org");
  });

  it("accepts a bare domain and decodes percent-encoding", () => {
    expect(xmppAddress("xmpp:example.org")).toBe("example.org");
    expect(xmppAddress("xmpp:ab%75se@example.org")).toBe("abuse@example.org");
    expect(xmppAddress("xmpp:abuse@example.org/resource")).toBeUndefined();
    expect(xmppAddress("xmpp:%E0%A4%A")).toBeUndefined();
    expect(xmppAddress("XMPP:abuse@example.org")).toBe("abuse@example.org");
  });

  it("only the serverinfo form counts, and it may come after other forms", () => {
    const info = discoInfo(
      form("urn:example:other", field("abuse-addresses", "xmpp:wrong@example.org")),
      form(SERVERINFO_FORM_TYPE, field("abuse-addresses", "xmpp:right@example.org")),
    );
    expect(reportAddress(info)).toBe("right@example.org");
    expect(serverInfoFields(discoInfo(form("urn:example:other")))).toBeUndefined();
    expect(reportAddress(discoInfo())).toBeUndefined();
  });

  it("a form with no acceptable address gives none (the caller decides on the domain fallback)", () => {
    expect(reportAddress(discoInfo(form(SERVERINFO_FORM_TYPE, field("abuse-addresses", "mailto:abuse@example.org"))))).toBeUndefined();
  });
});
