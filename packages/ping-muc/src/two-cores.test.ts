// Two copies of @xmppkit/core in one process, as npm makes them when two packages' ranges differ: the bot
// calls setupKit from one copy, ping-muc and track-muc-joins classify errors with the other. The errors
// carry brands (Symbol.for), so the verdicts and retries do not change.
import { cpSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import * as firstCore from "@xmppkit/core";
import { mockComponent, waitFor } from "@xmppkit/testing";
import { NS_MUC, NS_MUC_USER, setupMucJoins } from "@xmppkit/track-muc-joins";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setupPingMuc } from "./ping-muc.js";

const GW = "gateway.localhost";
const ROOM = "room@conference.localhost";
const { xml } = firstCore;
let secondCore: typeof firstCore;
// Inside the core package, so the copy resolves core's own dependencies; removed afterwards.
const copyDir = resolve(dirname(new URL(import.meta.resolve("@xmppkit/core")).pathname), "../.second-copy");

beforeAll(async () => {
  // The whole dist: its entries share chunks.
  cpSync(dirname(new URL(import.meta.resolve("@xmppkit/core")).pathname), copyDir, { recursive: true });
  secondCore = (await import(pathToFileURL(join(copyDir, "index.js")).href)) as typeof firstCore;
});
afterAll(() => rmSync(copyDir, { recursive: true, force: true }));

describe("two copies of @xmppkit/core", () => {
  it("are two copies: classes differ, instanceof fails, isInstance holds", () => {
    const err = new secondCore.StanzaError("not-acceptable", "cancel");
    expect(secondCore.StanzaError).not.toBe(firstCore.StanzaError);
    expect(err instanceof firstCore.StanzaError).toBe(false);
    expect(firstCore.StanzaError.isInstance(err)).toBe(true);
    expect(firstCore.IqTimeoutError.isInstance(new secondCore.IqTimeoutError("x", 1))).toBe(true);
    expect(firstCore.StanzaError.isInstance(new secondCore.IqTimeoutError("x", 1))).toBe(false);
  });

  it("a not-acceptable self-ping through the bot's kit (the other copy) is still a ghost, not 'not sent'", async () => {
    const mock = await mockComponent<firstCore.XmppEntity>({ domain: GW });
    const kit = secondCore.setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
    const joins = setupMucJoins(kit as unknown as firstCore.Kit, { joinTimeout: 500 });
    const ping = setupPingMuc({ ...(kit as unknown as firstCore.Kit), joins }, { delay: 0, jitter: 0, timeout: 500, rejoin: false });
    mock.entity.emit("online", mock.entity.jid);
    await mock.entity.send(xml("presence", { to: `${ROOM}/desk`, from: GW }, xml("x", NS_MUC)));
    await mock.receive(xml("presence", { from: `${ROOM}/desk`, to: GW }, xml("x", NS_MUC_USER, xml("status", { code: "110" }))));
    mock.replyToIq((s) => s.getChild("ping", firstCore.NS_PING) !== undefined, xml("error", { type: "cancel" }, xml("not-acceptable", firstCore.NS_STANZAS)));
    const result = await ping.check(ROOM);
    expect(result.outcome).toMatchObject({ kind: "error", condition: "not-acceptable" });
    expect(result.verdict).toBe("not-joined");
    ping.stop();
    joins.stop();
  });

  it("a ban (forbidden) answered to a rejoin through the other copy's kit is final: no retry for ever", async () => {
    const mock = await mockComponent<firstCore.XmppEntity>({ domain: GW });
    const kit = secondCore.setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } });
    const joins = setupMucJoins(kit as unknown as firstCore.Kit, { joinTimeout: 500, rejoinBackoff: { initial: 10, max: 20, jitter: 0 } });
    mock.entity.emit("online", mock.entity.jid);
    const failures: { retryInMs?: number }[] = [];
    joins.on("rejoin-failed", (e) => failures.push(e));
    const joining = joins.join(ROOM, { nick: "desk", from: GW }).catch((e: unknown) => e);
    await mock.receive(
      xml("presence", { from: `${ROOM}/desk`, to: GW, type: "error" }, xml("error", { type: "auth" }, xml("forbidden", firstCore.NS_STANZAS))),
    );
    expect(firstCore.StanzaError.isInstance(await joining)).toBe(true);
    const joinPresences = () => mock.sent.filter((s) => s.name === "presence" && s.attrs.to === `${ROOM}/desk`).length;
    const joinsBefore = joinPresences();
    joins.rejoin(ROOM, { from: GW, nick: "desk" });
    await waitFor(() => joinPresences() > joinsBefore, "the rejoin presence");
    await mock.receive(
      xml("presence", { from: `${ROOM}/desk`, to: GW, type: "error" }, xml("error", { type: "auth" }, xml("forbidden", firstCore.NS_STANZAS))),
    );
    await waitFor(() => failures.length > 0, "the rejoin to fail");
    await new Promise((r) => setTimeout(r, 50)); // five rejoin backoffs: a retry would show
    expect(failures).toHaveLength(1);
    expect(joinPresences()).toBe(joinsBefore + 1);
    expect(failures[0]!.retryInMs).toBeUndefined(); // gave up: a permanent error
    joins.stop();
  });
});
