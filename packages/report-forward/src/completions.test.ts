import { describe, expect, it } from "vitest";
import { createCompletions } from "./completions.js";

describe("completions", () => {
  it("collects every round's destinations and resolves on finish", async () => {
    const c = createCompletions();
    const all = c.expect("r1");
    c.record("r1", [{ jid: "mod@localhost", audience: "staff", ok: true }]);
    c.record("r1", [{ jid: "abuse@bad.example", audience: "origin", ok: false, error: "gone" }]);
    c.record("other", [{ jid: "x@localhost", audience: "staff", ok: true }]);
    c.finish("r1");
    expect((await all).map((d) => d.jid)).toEqual(["mod@localhost", "abuse@bad.example"]);
  });

  it("a forgotten report collects nothing more, and finishing it is harmless", () => {
    const c = createCompletions();
    let settled = false;
    void c.expect("r1").then(() => (settled = true));
    c.forget("r1");
    c.record("r1", [{ jid: "mod@localhost", audience: "staff", ok: true }]);
    c.finish("r1");
    return Promise.resolve().then(() => expect(settled).toBe(false));
  });
});
