import { StanzaError, silentLogger, type Element } from "@xmppkit/core";
import { describe, expect, it } from "vitest";
import type { ContactAddress } from "./contact-lookup.js";
import { DeliveryTimeoutError } from "./delivery.js";
import { createDeliveryPlan, messageId, type DeliveryPlanOptions } from "./delivery-plan.js";
import { parseHttpReport } from "./http-report.js";

const ROOM = "mods@conference.localhost";

function planner(
  options: Partial<DeliveryPlanOptions> = {},
  address: Partial<ContactAddress> = { address: "abuse@bad.example", kind: "published" },
  privilege?: { sendMessage(m: Element): Promise<void> },
) {
  const sent: { message: Element; room: boolean; via: boolean }[] = [];
  let fail: Error | undefined;
  const p = createDeliveryPlan(
    {
      delivery: {
        async send(message, o = {}) {
          sent.push({ message, room: !!o.room, via: !!o.via });
          if (fail) throw fail;
          await o.via?.(message);
        },
      },
      rooms: { isRoom: async (jid) => jid === ROOM, joined: async () => undefined },
      contacts: { lookup: async (domain) => ({ domain, address: undefined, kind: "none", cached: false, ...address }) },
      privilege,
      server: "localhost",
      serverDomains: new Set(["localhost"]),
      logger: silentLogger(),
    },
    { staff: ["mod@localhost", ROOM], thirdParties: ["list@blocklist.example"], requireOptIn: true, toOrigin: true, ...options },
  );
  return { p, sent, failWith: (err: Error) => (fail = err) };
}

const report = (flags: { third_party?: boolean; report_origin?: boolean } = {}, jid = "spammer@bad.example") =>
  parseHttpReport({ jid, reason: "spam", reporter: "alice@localhost", ...flags });

describe("delivery plan", () => {
  it("staff always; third parties only with <third-party/> (or without opt-ins); less what is done", () => {
    const { p } = planner();
    expect(p.plan(report(), []).map((t) => t.key)).toEqual(["staff mod@localhost", `staff ${ROOM}`]);
    expect(p.plan(report({ third_party: true }), ["staff mod@localhost"]).map((t) => t.key)).toEqual([`staff ${ROOM}`, "third-party list@blocklist.example"]);
    expect(
      planner({ requireOptIn: false })
        .p.plan(report(), [])
        .map((t) => t.audience),
    ).toContain("third-party");
  });

  it("the origin: its published address with <report-origin/>, never for this server's own users", async () => {
    const { p } = planner();
    expect((await p.planOrigin(report(), [])).targets).toEqual([]);
    expect((await p.planOrigin(report({ report_origin: true }), [])).targets).toEqual([
      { key: "origin", jid: "abuse@bad.example", audience: "origin", address: "published" },
    ]);
    expect(await p.planOrigin(report({ report_origin: true }, "bob@localhost"), [])).toEqual({ targets: [], unreachable: [] });
    expect((await p.planOrigin(report({ report_origin: true }), ["origin"])).targets).toEqual([]);
  });

  it("an origin without an address is unreachable, with the lookup's error", async () => {
    const { p } = planner({}, { error: "timeout" });
    expect(await p.planOrigin(report({ report_origin: true }), [])).toEqual({
      targets: [],
      unreachable: [{ jid: "bad.example", audience: "origin", ok: false, error: "timeout" }],
    });
  });

  it("a room gets a groupchat message; the message id carries the report id", async () => {
    const { p, sent } = planner();
    const d = await p.deliverTo(report(), "r1", { key: `staff ${ROOM}`, jid: ROOM, audience: "staff" });
    expect(d).toEqual({ jid: ROOM, audience: "staff", room: true, ok: true, retry: false });
    expect(sent[0]!.room).toBe(true);
    expect(sent[0]!.message.attrs).toMatchObject({ type: "groupchat", to: ROOM, id: messageId("r1", `staff ${ROOM}`) });
  });

  it("a bounce no retry changes is final; a timeout is tried again", async () => {
    const t = { key: "staff mod@localhost", jid: "mod@localhost", audience: "staff" as const };
    const gone = planner();
    gone.failWith(new StanzaError("item-not-found", "cancel"));
    expect(await gone.p.deliverTo(report(), "r1", t)).toMatchObject({ ok: false, error: "item-not-found", retry: false, room: false });
    const slow = planner();
    slow.failWith(new DeliveryTimeoutError("no answer"));
    expect(await slow.p.deliverTo(report(), "r1", t)).toMatchObject({ ok: false, error: "no answer", retry: true });
  });

  it("asServer sends through the XEP-0356 privilege, from the server domain; without it the copy waits for another round", async () => {
    const privileged: Element[] = [];
    const t = { key: "staff mod@localhost", jid: "mod@localhost", audience: "staff" as const };
    const { p } = planner({ asServer: true }, undefined, { sendMessage: async (m) => void privileged.push(m) });
    expect(await p.deliverTo(report(), "r1", t)).toMatchObject({ ok: true });
    expect(privileged[0]!.attrs.from).toBe("localhost");
    const without = await planner({ asServer: true }).p.deliverTo(report(), "r1", t);
    expect(without).toMatchObject({ ok: false, retry: true, error: "report_forward_as_server needs XEP-0356 and a server domain" });
  });
});
