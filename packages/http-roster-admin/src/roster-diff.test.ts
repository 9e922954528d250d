import type { RosterItem } from "@xmppkit/core";
import { describe, expect, it } from "vitest";
import { diffRoster } from "./roster-diff.js";

const item = (jid: string, name?: string, groups: string[] = [], subscription: RosterItem["subscription"] = "both"): RosterItem => ({
  jid,
  ...(name ? { name } : {}),
  subscription,
  groups,
});

describe("diffRoster", () => {
  const server = [item("marie@x", "Marie", ["Friends"]), item("michael@x", "Michael", ["Friends", "Work"]), item("old@x", "Old")];

  it("unchanged: nothing to do (group order does not matter)", () => {
    const d = diffRoster(server, [item("marie@x", "Marie", ["Friends"]), item("michael@x", "Michael", ["Work", "Friends"]), item("old@x", "Old")]);
    expect(d).toEqual({ add: [], change: [], remove: [], unchanged: 3 });
  });

  it("add, change name, change groups, remove", () => {
    const d = diffRoster(server, [item("marie@x", "Marie C."), item("michael@x", "Michael", ["Work"]), item("new@x", "New")]);
    expect(d.add).toEqual([item("new@x", "New")]);
    expect(d.change).toEqual([item("marie@x", "Marie C."), item("michael@x", "Michael", ["Work"])]);
    expect(d.remove).toEqual(["old@x"]);
    expect(d.unchanged).toBe(0);
  });

  it("a missing name equals an empty one; JIDs compare normalised", () => {
    expect(diffRoster([item("Bob@X")], [{ jid: "bob@x", name: "", subscription: "both", groups: [] }]).unchanged).toBe(1);
  });

  it("a subscription the user changed is restored, unless subscriptions are not compared", () => {
    const changed = [item("marie@x", "Marie", ["Friends"], "none")];
    const wanted = [item("marie@x", "Marie", ["Friends"])];
    expect(diffRoster(changed, wanted).change).toHaveLength(1);
    expect(diffRoster(changed, wanted, { compareSubscription: false }).unchanged).toBe(1);
  });
});
