import { describe, expect, it } from "vitest";
import { bareJid, isXmlSafe, normalizeJid, parseJid, parseXml, xml, xmlForbiddenChar } from "./xml.js";

describe("parseJid", () => {
  it("parses local@domain/resource, a bare JID and a domain, normalising case", () => {
    expect(normalizeJid("Alice@Example.ORG/Phone")).toBe("alice@example.org/Phone");
    expect(bareJid("alice@example.org/r/with/slashes")).toBe("alice@example.org");
    expect(parseJid("conference.example.org")?.domain).toBe("conference.example.org");
  });

  it.each(["", "@@@", "@example.org", "a@b@c", "a@", "a@b/", "a b@c", "a@exa mple.org", "/res"])("refuses %j", (value) => {
    expect(parseJid(value)).toBeNull();
  });
});

describe("XML 1.0 characters", () => {
  it("finds what XML forbids, and lets the rest through", () => {
    expect(xmlForbiddenChar("ok\ttab\nnewline\r😀 é")).toBeUndefined();
    expect(xmlForbiddenChar("ring\u0007")).toEqual({ index: 4, char: "U+0007" });
    expect(xmlForbiddenChar("\uFFFF")).toEqual({ index: 0, char: "U+FFFF" });
    expect(xmlForbiddenChar("a\uD800b")).toEqual({ index: 1, char: "U+D800" });
    expect(xmlForbiddenChar("a\uDC00")).toEqual({ index: 1, char: "U+DC00" });
    expect(isXmlSafe("\u000B")).toBe(false);
    expect(parseJid("bell\u0007@example.org")).toBeNull();
  });
});

describe("parseXml", () => {
  it("reads back what toString wrote, children and text included", () => {
    const el = xml("message", { to: "a@b", id: "1" }, xml("body", {}, "x < y & z"), xml("report", { xmlns: "urn:xmpp:reporting:1" }, xml("text", {}, "t")));
    const back = parseXml(el.toString());
    expect(back.toString()).toBe(el.toString());
    expect(back.getChild("report", "urn:xmpp:reporting:1")!.getChildText("text")).toBe("t");
    expect(() => parseXml("<a><b></a>")).toThrow();
  });
});
