import { wireProblem } from "@xmppkit/core";
import { describe, expect, it } from "vitest";
import { digestMessage } from "./forward-message.js";
import { parseHttpReport } from "./http-report.js";

describe("digestMessage", () => {
  it("clips long texts at whole characters: an emoji at the cut is never split into half a character XML forbids", () => {
    const text = `${"x".repeat(199)}💊💊 and more`;
    const report = parseHttpReport({ jid: "spammer@bad.example", reason: "spam", reporter: "dave@localhost", text });
    const m = digestMessage([{ id: "r1", report }], { to: "mod@localhost", heading: "Report digest: 1 report" });
    expect(wireProblem(m.toString())).toBeUndefined();
    expect(m.getChildText("body")).toBe(`Report digest: 1 report\n1. Spam about spammer@bad.example, by dave@localhost: "${"x".repeat(199)}💊…"`);
    expect(m.getChildren("report")).toHaveLength(1);
  });
});
