import { xml, type Element } from "@xmppkit/core";
import { describe, expect, it } from "vitest";
import { trackApprovals } from "./stamping.js";

describe("a component's contacts", () => {
  it("are whoever approved its subscription, until they withdraw it", () => {
    let incoming: ((s: Element) => unknown) | undefined;
    const stanzas = {
      onIncoming: (fn: (s: Element) => unknown) => {
        incoming = fn;
        return () => undefined;
      },
    };
    const approvals = trackApprovals(stanzas as never);
    expect(approvals.isContact("gw.example/x", "alice@example.org")).toBe(false);
    incoming!(xml("presence", { type: "subscribed", from: "alice@example.org/phone", to: "gw.example" }));
    expect(approvals.isContact("gw.example", "alice@example.org/laptop")).toBe(true);
    expect(approvals.isContact("gw.example", "bob@example.org")).toBe(false);
    incoming!(xml("presence", { type: "unsubscribed", from: "alice@example.org", to: "gw.example" }));
    expect(approvals.isContact("gw.example", "alice@example.org")).toBe(false);
  });
});
