import { normalizeJid } from "@xmppkit/core";
import { describe, expect, it } from "vitest";
import { bareJidKey, isPlainBareJid } from "./jid-key.js";

describe("bareJidKey", () => {
  it("takes plain lowercase ASCII bare JIDs as they are, and agrees with the parser on them", () => {
    for (const jid of ["alice@example.com", "a.b+c_d=e-f@mail.example.co.uk", "example.org", "x@localhost"]) {
      expect(isPlainBareJid(jid)).toBe(true);
      expect(bareJidKey(jid)).toBe(normalizeJid(jid));
    }
  });

  it("parses everything else: case, non-ASCII, resources, a trailing dot", () => {
    for (const jid of ["Alice@Example.COM", "jürgen@example.de", "alice@example.com/phone", "alice@example.com.", "a@[::1]"]) {
      expect(isPlainBareJid(jid)).toBe(false);
      expect(bareJidKey(jid)).toBe(normalizeJid(jid) ?? jid);
    }
    expect(bareJidKey("Alice@Example.COM")).toBe("alice@example.com");
  });
});
