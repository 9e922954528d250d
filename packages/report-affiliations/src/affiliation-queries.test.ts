import { silentLogger, xml } from "@xmppkit/core";
import { describe, expect, it } from "vitest";
import { createAnswer } from "./affiliation-queries.js";
import type { ReportAffiliationsEvents } from "./affiliations.js";

type Queried = ReportAffiliationsEvents["queried"];

function answerer() {
  const told: Queried[] = [];
  const emitter = { emit: (_event: "queried", q: Queried) => void told.push(q) };
  return { told, answer: createAnswer({ emitter: emitter as never, log: silentLogger() }, new Set(["rtbl.example"])) };
}

describe("answering a XEP-0489 query", () => {
  it("a trusted server (its domain or full JID) gets <info/>; the event names the bare JID", async () => {
    const { told, answer } = answerer();
    const info = await answer("rtbl.example/bot", "alice@localhost/phone", "delegation", async () => ({ affiliation: "admin" }));
    expect(info.toString()).toBe(xml("info", { xmlns: "urn:xmpp:raa:0", affiliation: "admin" }).toString());
    expect(told).toEqual([{ requester: "rtbl.example/bot", jid: "alice@localhost", via: "delegation", outcome: "answered", affiliation: "admin" }]);
  });

  it("anyone else is refused before the lookup; a failing lookup is internal-server-error (wait)", async () => {
    const { told, answer } = answerer();
    let looked = false;
    const lookup = async () => {
      looked = true;
      throw new Error("source down");
    };
    await expect(answer("bob@rtbl.example", "alice@localhost", "direct", lookup)).rejects.toMatchObject({ condition: "forbidden", type: "auth" });
    expect(looked).toBe(false);
    await expect(answer("rtbl.example", "alice@localhost", "direct", lookup)).rejects.toMatchObject({ condition: "internal-server-error", type: "wait" });
    expect(told.map((q) => [q.outcome, q.error])).toEqual([
      ["forbidden", undefined],
      ["error", "source down"],
    ]);
  });
});
