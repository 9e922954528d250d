import { describe, expect, it } from "vitest";
import { contactJid, parseWebRoster, WebRosterError } from "./roster-json.js";

describe("parseWebRoster", () => {
  it("reads names and groups, as an array or as an object whose keys are the groups", () => {
    const { items, skipped } = parseWebRoster({
      "marie@example.com": { name: "Marie", groups: ["Friends", "Work"] },
      "michael@example.com": { name: "Michael", groups: { Friends: true } },
      "nogroups@example.com": {},
      "nullvalue@example.com": null,
      "transport.example.com": { name: "Gateway" },
    });
    expect(skipped).toEqual([]);
    expect(items).toEqual([
      { jid: "marie@example.com", name: "Marie", subscription: "both", groups: ["Friends", "Work"] },
      { jid: "michael@example.com", name: "Michael", subscription: "both", groups: ["Friends"] },
      { jid: "nogroups@example.com", subscription: "both", groups: [] },
      { jid: "nullvalue@example.com", subscription: "both", groups: [] },
      { jid: "transport.example.com", name: "Gateway", subscription: "both", groups: [] },
    ]);
  });

  it("normalises JIDs, trims names and groups, drops empty and repeated groups", () => {
    const { items } = parseWebRoster({ "Marie@Example.COM": { name: "  Marie ", groups: [" Friends", "Friends", ""] } });
    expect(items).toEqual([{ jid: "marie@example.com", name: "Marie", subscription: "both", groups: ["Friends"] }]);
  });

  it("skips invalid contacts one by one, saying why, and keeps the rest", () => {
    const { items, skipped } = parseWebRoster({
      "ok@example.com": { name: "OK" },
      "not a jid": { name: "x" },
      "full@example.com/res": {},
      "@example.com": {},
      "a@b@c": {},
      "numname@example.com": { name: 42 },
      "badgroups@example.com": { groups: [1, 2] },
      "strgroups@example.com": { groups: "Friends" },
      "array@example.com": ["x"],
      "str@example.com": "Marie",
      "OK@example.com": { name: "again" },
    });
    expect(items.map((i) => i.jid)).toEqual(["ok@example.com"]);
    expect(skipped).toEqual([
      { key: "not a jid", reason: "not a JID (bad domain)" },
      { key: "full@example.com/res", reason: "a full JID (contacts are bare JIDs)" },
      { key: "@example.com", reason: "not a JID (bad local part)" },
      { key: "a@b@c", reason: "not a JID (bad domain)" },
      { key: "numname@example.com", reason: "name must be a string, got a number" },
      { key: "badgroups@example.com", reason: "groups must be strings, got a number" },
      { key: "strgroups@example.com", reason: "groups must be an array of strings or an object, got a string" },
      { key: "array@example.com", reason: "expected an object, got an array" },
      { key: "str@example.com", reason: "expected an object, got a string" },
      { key: "OK@example.com", reason: "duplicate of ok@example.com" },
    ]);
  });

  it("refuses a body that is not an object of contacts", () => {
    for (const body of [null, [], ["a@b"], "x", 3, true]) expect(() => parseWebRoster(body)).toThrow(WebRosterError);
    expect(() => parseWebRoster([])).toThrow("expected a JSON object of contacts, got an array");
    expect(parseWebRoster({})).toEqual({ items: [], skipped: [] });
  });

  it("skips a contact whose name, group or JID holds a character XML forbids (it would drop the link at every sync)", () => {
    const { items, skipped } = parseWebRoster({
      "bell@example.com": { name: "Ring\u0007Bell" },
      "esc@example.com": { name: "ok", groups: ["Work\u001B"] },
      "nul\u0000@example.com": {},
      "fine@example.com": { name: "Tab\tand newline\n are allowed" },
    });
    expect(items.map((i) => i.jid)).toEqual(["fine@example.com"]);
    expect(skipped).toEqual([
      { key: "bell@example.com", reason: "name holds U+0007, which XML forbids" },
      { key: "esc@example.com", reason: "a group name holds U+001B, which XML forbids" },
      { key: "nul\u0000@example.com", reason: "not a JID (holds U+0000, which XML forbids)" },
    ]);
  });

  it("accepts internationalised JIDs", () => {
    expect(contactJid("zoë@exämple.org")).toEqual({ jid: "zoë@exämple.org" });
  });
});
