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

describe("normalizeJid and bareJid without a parse for plain lowercase bare JIDs", () => {
  it("agree with the parser on plain ones, and parse everything else (case, non-ASCII, resources, a trailing dot)", () => {
    for (const jid of ["alice@example.com", "a.b+c_d=e-f@mail.example.co.uk", "example.org", "x@localhost"]) {
      expect(normalizeJid(jid)).toBe(parseJid(jid)!.toString());
      expect(bareJid(jid)).toBe(parseJid(jid)!.bare().toString());
    }
    expect(normalizeJid("Alice@Example.COM")).toBe("alice@example.com");
    expect(normalizeJid("jürgen@Example.de")).toBe(parseJid("jürgen@Example.de")!.toString());
    expect(bareJid("alice@example.com/phone")).toBe("alice@example.com");
    expect(normalizeJid("alice@example.com.")).toBe(parseJid("alice@example.com.")?.toString() ?? null);
    expect(normalizeJid("a@[::1]")).toBe(parseJid("a@[::1]")?.toString() ?? null);
    expect(normalizeJid("")).toBeNull();
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
