import { captureLogger } from "@xmppkit/testing";
import { describe, expect, it } from "vitest";
import { createOutageLog } from "./outage-log.js";

describe("the audit outage log", () => {
  it("says an outage once when it starts, the first drop once, and the end with what was lost", () => {
    const { logger, lines } = captureLogger();
    let now = 1000;
    const outage = createOutageLog(logger, 20, () => now);
    outage.recovered(0); // no outage: nothing to say
    outage.failed(new Error("down"), 5, 2);
    outage.failed(new Error("down"), 5, 2); // a retry: already said
    outage.dropping(3);
    outage.dropping(4);
    now = 4000;
    outage.recovered(4);
    const said = lines().map((l) => [l.msg, l.rows ?? l.downMs ?? l.maxQueued]);
    expect(said).toEqual([
      ["writing audit events failed; they are kept in memory (up to maxQueued) and retried", 5],
      ["the audit queue is full: events are dropped until the database is back", 20],
      ["audit writes work again; 2 events were dropped while the database was unreachable", 3000],
    ]);
  });

  it("an outage that dropped nothing says so", () => {
    const { logger, lines } = captureLogger();
    const outage = createOutageLog(logger, 20);
    outage.failed(new Error("down"), 1, 7);
    outage.recovered(7);
    expect(lines().at(-1)?.msg).toBe("audit writes work again; nothing was lost");
  });
});
