import { describe, expect, it } from "vitest";
import { DEFAULT_BODY_TEMPLATE, DEFAULT_STAFF_BODY_TEMPLATE, checkTemplate, renderTemplate } from "./body-template.js";

describe("renderTemplate (Prosody's util.interpolation syntax)", () => {
  it("substitutes, defaults and conditions, nested", () => {
    const t = "{a} {b?none} {c&C is {c}} {d~no d}";
    expect(renderTemplate(t, { a: "A", c: "x" })).toBe("A none C is x no d");
    expect(renderTemplate(t, { a: "A", b: "B", d: "D" })).toBe("A B");
  });

  it("leaves text that only looks like a placeholder alone", () => {
    expect(renderTemplate("{ not } {1x} {unclosed", {})).toBe("{ not } {1x} {unclosed");
  });

  it("states the reported message's time only when it is known (the seed printed 'now')", () => {
    const without = renderTemplate(DEFAULT_BODY_TEMPLATE, { reported_jid: "spammer@bad.example" });
    expect(without).toContain("Reported JID: spammer@bad.example");
    expect(without).not.toContain("was sent at");
    expect(without).not.toMatch(/\n{3}/);
    const withTime = renderTemplate(DEFAULT_BODY_TEMPLATE, { reported_jid: "s@b", reported_message_time: "2024-11-20T10:11:12Z" });
    expect(withTime).toContain("The reported message was sent at: 2024-11-20T10:11:12Z");
  });

  it("keeps the header and the signature separator on their own lines (the seed merged them)", () => {
    const out = renderTemplate(DEFAULT_BODY_TEMPLATE, { reported_jid: "s@b" });
    expect(out.split("\n").slice(0, 2)).toEqual(["SPAM/ABUSE REPORT", "-----------------"]);
    expect(out).toContain("\n-- \nThis message");
  });

  it("the staff text names the reporter, or says the source did not", () => {
    expect(renderTemplate(DEFAULT_STAFF_BODY_TEMPLATE, { reported_jid: "s@b", reporter: "alice@localhost", reason: "Spam" })).toMatch(
      /^Spam report about s@b\nReported by: alice@localhost\nThe reporter allowed: nothing beyond this server$/,
    );
    expect(renderTemplate(DEFAULT_STAFF_BODY_TEMPLATE, { reported_jid: "s@b" })).toContain("Reported by: not given by the source");
    expect(renderTemplate(DEFAULT_STAFF_BODY_TEMPLATE, { reported_jid: "s@b", reporter: "a user of localhost; the server did not name them" })).toContain(
      "Reported by: a user of localhost; the server did not name them",
    );
  });

  it("checkTemplate finds unbalanced braces", () => {
    expect(checkTemplate("{a&{b}}")).toBeUndefined();
    expect(checkTemplate("{a")).toMatch(/without its }/);
    expect(checkTemplate("a}")).toMatch(/without its {/);
  });
});
