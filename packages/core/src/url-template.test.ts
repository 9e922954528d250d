import { describe, expect, it } from "vitest";
import { checkUrlTemplate as checkRosterUrlTemplate, fillUrlTemplate as rosterUrl } from "./url-template.js";

describe("fillUrlTemplate", () => {
  it("URL-encodes the username (Prosody's module inserts it raw)", () => {
    const t = "https://app.example/contacts/%s";
    expect(rosterUrl(t, "john")).toBe("https://app.example/contacts/john");
    expect(rosterUrl(t, "50%off")).toBe("https://app.example/contacts/50%25off");
    expect(rosterUrl(t, "a+b")).toBe("https://app.example/contacts/a%2Bb");
    expect(rosterUrl(t, "who?x=1#y")).toBe("https://app.example/contacts/who%3Fx%3D1%23y");
    expect(rosterUrl(t, "zoë")).toBe("https://app.example/contacts/zo%C3%AB");
    expect(rosterUrl(t, "日本")).toBe("https://app.example/contacts/%E6%97%A5%E6%9C%AC");
  });

  it("works in the query string, replaces every %s, and keeps %% as a literal %", () => {
    expect(rosterUrl("http://h/r?user=%s&copy=%s", "a&b")).toBe("http://h/r?user=a%26b&copy=a%26b");
    expect(rosterUrl("http://h/100%%/%s", "x")).toBe("http://h/100%/x");
  });

  it("checks the template", () => {
    expect(checkRosterUrlTemplate("http://localhost/contacts/%s")).toBeUndefined();
    expect(checkRosterUrlTemplate("http://localhost/contacts/")).toMatch(/%s/);
    expect(checkRosterUrlTemplate("localhost/%s")).toMatch(/absolute URL/);
    expect(checkRosterUrlTemplate("ftp://h/%s")).toMatch(/http: or https:/);
  });
});
