// End-to-end: @xmppkit/http-roster-admin loaded by the gateway (by package name, as an operator would),
// against each real server and a real HTTP backend standing in for the web application. On ejabberd the
// rosters are written through ejabberd's admin API (its XEP-0356 roster set does not work in 23.01).
import type { EventRecord } from "@xmppkit/core";
import type {} from "@xmppkit/http-roster-admin";
import { loginClient, startHttpBackend, startServer, type Ejabberd, type HttpBackend, type TestClient, type XmppServer } from "@xmppkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type Gateway } from "../src/gateway.js";
import { behaviourOf } from "./compatibility.js";
import { captureLogger, SERVERS, testConfig, waitFor } from "./helpers.js";

const TOKEN = "e2e-roster-admin-token-0123456789";
type Roster = Record<string, unknown>;

describe.each(SERVERS)("http-roster-admin in the gateway, against a real $id", (server) => {
  const behaviour = behaviourOf(server.id);
  let prosody: XmppServer;
  let gateway: Gateway;
  let webApp: HttpBackend;
  let alice: TestClient;
  let bob: TestClient | undefined;
  const web: Record<string, Roster | "500" | "bad-json" | "slow"> = { alice: {} };
  const events: EventRecord[] = [];
  const log = captureLogger();

  const refresh = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${gateway.http.url}/roster_admin/refresh`, {
      method: "POST",
      body,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...headers },
    });
  const rosterOf = async (client: TestClient) =>
    (await client.fetchRoster())
      .getChild("query")!
      .getChildren("item")
      .map((i) => ({ ...i.attrs, groups: i.getChildren("group").map((g) => g.getText()) }));
  const pushedItems = (from: number) => alice.rosterPushes.slice(from).map((iq) => iq.getChild("query")!.getChild("item")!);

  beforeAll(async () => {
    webApp = await startHttpBackend((req) => {
      const user = decodeURIComponent(req.url.split("/").pop()!);
      const roster = web[user];
      if (roster === "500") return { status: 500, body: "internal error in the web app" };
      if (roster === "bad-json") return { body: '{"marie@example.com": {' };
      if (roster === "slow") return { delayMs: 3000, body: {} };
      return { body: roster ?? {} };
    });
    prosody = await startServer(server);
    const writer =
      behaviour.rosterWriter === "ejabberd_api" ? `  http_roster_writer: ejabberd_api\n  http_roster_ejabberd_api_url: ${(prosody as Ejabberd).api}\n` : "";
    const { config, sourceMap } = testConfig(
      prosody,
      `modules_enabled: [http-roster-admin]
http-roster-admin:
  http_roster_url: ${webApp.url}/contacts/%s
  http_roster_timeout: 1
  http_roster_retries: 0
  http_roster_max_users: 100
${writer}`,
      { token: TOKEN },
    );
    gateway = await startGateway(config, { logger: log.logger, sourceMap });
    gateway.events.onAny((e) => void events.push(e));
    alice = await loginClient(prosody, "alice");
    await alice.fetchRoster(); // Prosody pushes roster changes only to resources that fetched the roster
    // alice's login triggered a sync of her (empty) web roster; let it finish.
    await waitFor(() => events.find((e) => e.type === "roster-synced" && (e.payload as { user: string }).user === "alice"), "alice's login sync");
  });

  afterAll(async () => {
    await alice?.stop();
    await bob?.stop();
    await gateway?.stop();
    await prosody?.stop();
    await webApp?.close();
  });

  it("POST refresh pushes the web app's contacts, with names and groups, to alice's client", async () => {
    const before = alice.rosterPushes.length;
    web.alice = {
      "marie@example.com": { name: "Marie", groups: ["Friends"] },
      "michael@example.com": { name: "Michael", groups: { Friends: true, Work: true } },
    };
    const res = await refresh('["alice"]');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", message: "roster update complete", updated: 1, errors: 0 });
    await waitFor(() => alice.rosterPushes.length >= before + 2, "two roster pushes");
    const items = pushedItems(before).map((i) => ({
      jid: i.attrs.jid,
      name: i.attrs.name,
      subscription: i.attrs.subscription,
      groups: i
        .getChildren("group")
        .map((g) => g.getText())
        .sort(),
    }));
    expect(items).toEqual(
      expect.arrayContaining([
        { jid: "marie@example.com", name: "Marie", subscription: "both", groups: ["Friends"] },
        { jid: "michael@example.com", name: "Michael", subscription: "both", groups: ["Friends", "Work"] },
      ]),
    );
    expect(events).toContainEqual(
      expect.objectContaining({
        type: "refresh-requested",
        module: "http-roster-admin",
        payload: expect.objectContaining({ ip: "127.0.0.1", users: ["alice"] }),
      }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({ type: "roster-synced", payload: expect.objectContaining({ user: "alice", trigger: "http", added: 2 }) }),
    );
  });

  it("a changed name and a removed contact are pushed; unchanged data pushes nothing", async () => {
    let before = alice.rosterPushes.length;
    web.alice = { "marie@example.com": { name: "Marie Curie", groups: ["Friends"] } };
    expect(await (await refresh('["alice"]')).json()).toMatchObject({ status: "ok", updated: 1, errors: 0 });
    await waitFor(() => alice.rosterPushes.length >= before + 2, "two roster pushes");
    const pushed = pushedItems(before).map((i) => `${i.attrs.jid} ${i.attrs.subscription} ${i.attrs.name ?? ""}`.trim());
    expect(pushed.sort()).toEqual(["marie@example.com both Marie Curie", "michael@example.com remove"]);

    // A roster get round trip: the server answers it after every push of the first refresh it had queued for
    // alice (ejabberd 24.12's API can send one more after the two awaited).
    await rosterOf(alice);
    before = alice.rosterPushes.length;
    expect(await (await refresh('["alice"]')).json()).toMatchObject({ status: "ok", updated: 1, errors: 0 });
    // The same round trip as above: a push from this refresh would have come before the roster get's answer.
    expect(await rosterOf(alice)).toEqual([{ jid: "marie@example.com", name: "Marie Curie", subscription: "both", groups: ["Friends"] }]);
    expect(alice.rosterPushes.length).toBe(before);
  });

  it.each([
    ["a 500 from the web app", "500" as const, "http-status"],
    ["invalid JSON", "bad-json" as const, "invalid-json"],
    ["a timeout", "slow" as const, "timeout"],
  ])("%s counts as an error and leaves alice's roster unchanged", async (_what, behaviour, reason) => {
    const rosterBefore = await rosterOf(alice);
    const pushesBefore = alice.rosterPushes.length;
    web.alice = behaviour;
    const res = await refresh('["alice"]');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "error", updated: 0, errors: 1 });
    expect(await rosterOf(alice)).toEqual(rosterBefore);
    expect(alice.rosterPushes.length).toBe(pushesBefore);
    expect(events).toContainEqual(expect.objectContaining({ type: "roster-sync-failed", payload: expect.objectContaining({ user: "alice", reason }) }));
  });

  it("one failing user does not hold up the others; offline users are synced too", async () => {
    web.alice = "500";
    web.carol = { "alice@localhost": { name: "Alice" } }; // carol has never logged in
    await prosody.createUser("carol", "carolpw");
    const res = await refresh('["alice","carol","carol"]');
    expect(await res.json()).toEqual({ status: "ok", message: "roster update complete; 1 of 2 users failed (see the log)", updated: 1, errors: 1 });
    const carol = await loginClient(prosody, "carol", { presence: false });
    try {
      expect(await rosterOf(carol)).toEqual([{ jid: "alice@localhost", name: "Alice", subscription: "both", groups: [] }]);
    } finally {
      await carol.stop();
    }
  });

  it("bob coming online triggers a sync of bob without any POST", async () => {
    web.bob = { "alice@localhost": { name: "Alice", groups: ["Team"] } };
    const requestsBefore = webApp.requests.length;
    bob = await loginClient(prosody, "bob");
    await waitFor(() => events.find((e) => e.type === "roster-synced" && (e.payload as { user: string; trigger: string }).user === "bob"), "bob's login sync");
    expect(webApp.requests.slice(requestsBefore).map((r) => r.url)).toEqual(["/contacts/bob"]);
    expect(await rosterOf(bob)).toEqual([{ jid: "alice@localhost", name: "Alice", subscription: "both", groups: ["Team"] }]);
  });

  it("GET refresh/{username} syncs one user", async () => {
    web.alice = { "marie@example.com": { name: "Marie" } };
    const res = await fetch(`${gateway.http.url}/roster_admin/refresh/alice`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await res.json()).toEqual({ status: "ok", message: "roster update complete", updated: 1, errors: 0 });
  });

  it("401 without or with a wrong token, 400 for a bad body, 413 for too many users or bytes", async () => {
    const noToken = await fetch(`${gateway.http.url}/roster_admin/refresh`, { method: "POST", body: '["alice"]' });
    expect(noToken.status).toBe(401);
    expect((await refresh('["alice"]', { authorization: "Bearer wrong" })).status).toBe(401);
    const bad = await refresh('{"alice": true}');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ status: "error", message: "expected a JSON array of usernames, got an object" });
    expect((await refresh("not json")).status).toBe(400);
    const many = await refresh(JSON.stringify(Array.from({ length: 101 }, (_, i) => `u${i}`)));
    expect(many.status).toBe(413);
    const huge = await refresh(JSON.stringify(["x".repeat(2 * 1024 * 1024)]));
    expect(huge.status).toBe(413);
  });

  it("counts syncs in /metrics", async () => {
    const text = await (await fetch(`${gateway.http.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(text).toMatch(/xmppkit_http_roster_admin_syncs_total\{outcome="ok",trigger="http"\} \d+/);
    expect(text).toMatch(/xmppkit_http_roster_admin_syncs_total\{outcome="error",trigger="http"\} \d+/);
  });

  // Last: it restarts Prosody, which ends alice's session.
  it("while the link is down a refresh answers 503 at once, with Retry-After and the reason, and works again after", async () => {
    const down = gateway.kit.lifecycle.next("link-lost", 10_000);
    const restarting = prosody.restart();
    await down;
    const res = await refresh('["alice"]');
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    const body = (await res.json()) as { status: string; reason: string };
    expect(body.status).toBe("error");
    expect(body.reason).toMatch(/^(the server closed the stream|the connection closed|stream error system-shutdown.*|connect ECONNREFUSED .*)$/);
    await restarting;
    await waitFor(() => gateway.kit.lifecycle.online, "the link back");
    expect((await refresh('["alice"]')).status).toBe(200);
  });
});
