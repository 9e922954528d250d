import { xml } from "@xmppkit/core";
import { describe, expect, it } from "vitest";
import { InfoParseError, NS_RAA, infoElement, parseInfo, replaceInfo, utcDay } from "./info.js";
import { trustedServer } from "./trusted.js";

describe("<info/>", () => {
  it("builds the XEP's element, with since rounded down to the UTC day and an integer trust", () => {
    expect(infoElement({ affiliation: "registered", since: new Date("2024-11-22T23:59:59.999+00:00"), trust: 50.9 }).toString()).toBe(
      `<info xmlns="${NS_RAA}" affiliation="registered" since="2024-11-22T00:00:00Z" trust="50"/>`,
    );
    expect(infoElement({ affiliation: "registered", since: new Date("2024-11-22T01:00:00+03:00") }).attrs.since).toBe("2024-11-21T00:00:00Z");
    expect(infoElement({ affiliation: "admin" }).toString()).toBe(`<info xmlns="${NS_RAA}" affiliation="admin"/>`);
    expect(infoElement({ affiliation: "anonymous", trust: 250 }).attrs.trust).toBe("100");
    expect(() => infoElement({ affiliation: "guest" as never })).toThrow(/not a XEP-0489 affiliation/);
  });

  it("parses what it builds", () => {
    const since = utcDay(new Date("2024-11-22T10:00:00Z"));
    expect(parseInfo(infoElement({ affiliation: "registered", since, trust: 7 }))).toEqual({ affiliation: "registered", since, trust: 7 });
  });

  it.each([
    [{ affiliation: "guest" }, /affiliation must be/],
    [{}, /affiliation must be/],
    [{ affiliation: "member", since: "yesterday" }, /since/],
    [{ affiliation: "member", since: "2024-11-22" }, /since/],
    [{ affiliation: "member", trust: "101" }, /trust/],
    [{ affiliation: "member", trust: "-1" }, /trust/],
    [{ affiliation: "member", trust: "5.5" }, /trust/],
  ])("refuses %j", (attrs, message) => {
    expect(() => parseInfo(xml("info", { xmlns: NS_RAA, ...attrs }))).toThrow(InfoParseError);
    expect(() => parseInfo(xml("info", { xmlns: NS_RAA, ...attrs }))).toThrow(message);
  });

  it("replaceInfo removes every forged <info/> and adds ours", () => {
    const p = xml(
      "presence",
      { type: "subscribe" },
      xml("info", { xmlns: NS_RAA, affiliation: "admin" }),
      xml("status", {}, "hi"),
      xml("info", { xmlns: NS_RAA, affiliation: "admin" }),
    );
    replaceInfo(p, infoElement({ affiliation: "member" }));
    expect(p.getChildren("info", NS_RAA).map((i) => i.attrs.affiliation)).toEqual(["member"]);
    expect(p.getChildText("status")).toBe("hi");
  });
});

describe("the trusted-server rule (as Prosody)", () => {
  const trusted = new Set(["rtbl.example"]);
  it("a listed server, bare or full, is trusted", () => {
    expect(trustedServer("rtbl.example", trusted)).toBe("rtbl.example");
    expect(trustedServer("rtbl.example/bot", trusted)).toBe("rtbl.example");
  });
  it("a JID with a node is not, even on a listed server; nor an unlisted server or garbage", () => {
    expect(trustedServer("admin@rtbl.example", trusted)).toBeUndefined();
    expect(trustedServer("admin@rtbl.example/x", trusted)).toBeUndefined();
    expect(trustedServer("other.example", trusted)).toBeUndefined();
    expect(trustedServer("sub.rtbl.example", trusted)).toBeUndefined();
    expect(trustedServer("@@@", trusted)).toBeUndefined();
    expect(trustedServer(undefined, trusted)).toBeUndefined();
  });
});
