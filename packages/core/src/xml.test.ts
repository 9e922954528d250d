import { describe, expect, it } from "vitest";
import { bareJid, normalizeJid, parseJid } from "./xml.js";

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
