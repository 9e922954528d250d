import { setupKit, xml, type RosterItem, type XmppEntity } from "@xmppkit/core";
import { mockClient, mockComponent, startHttpBackend, waitFor, type HttpBackend } from "@xmppkit/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ownRoster, type RosterAccess, type RosterChange } from "./roster-access.js";
import { RosterSyncError, setupRosterAdmin, type RosterAdmin, type RosterAdminOptions } from "./roster-admin.js";

/** Rosters kept in memory, recording every set. */
function memoryRoster(domain = "localhost") {
  const rosters = new Map<string, Map<string, RosterItem>>();
  const sets: { user: string; jid: string; change: RosterChange }[] = [];
  let failSet: ((jid: string) => boolean) | undefined;
  const access: RosterAccess = {
    kind: "privileged",
    domain,
    honoursSubscription: true,
    async get(user) {
      return [...(rosters.get(user)?.values() ?? [])].map((i) => ({ ...i }));
    },
    async set(user, item, change) {
      await new Promise((r) => setTimeout(r, 1));
      if (failSet?.(item.jid)) throw new Error("internal-server-error");
      sets.push({ user, jid: item.jid, change });
      let r = rosters.get(user);
      if (!r) {
        r = new Map();
        rosters.set(user, r);
      }
      if (item.subscription === "remove") r.delete(item.jid);
      else r.set(item.jid, { ...item });
    },
  };
  return {
    access,
    rosters,
    sets,
    failSetWhen: (f: (jid: string) => boolean) => {
      failSet = f;
    },
  };
}

describe("setupRosterAdmin", () => {
  let app: HttpBackend;
  let web: Record<string, unknown>;
  let mem: ReturnType<typeof memoryRoster>;
  let admin: RosterAdmin;
  const options = (): RosterAdminOptions => ({ url: `${app.url}/roster/%s`, timeout: 500, retries: 0 });

  beforeAll(async () => {
    app = await startHttpBackend((req) => {
      const user = decodeURIComponent(req.url.split("/").pop()!);
      const body = web[user];
      if (body === "500") return { status: 500, body: "boom" };
      if (body === "bad-json") return { body: "{" };
      if (body === "slow") return { delayMs: 800, body: {} };
      return { body: body ?? {} };
    });
  });
  afterAll(() => app.close());
  beforeEach(() => {
    mem = memoryRoster();
    web = {
      alice: { "marie@example.com": { name: "Marie", groups: ["Friends"] }, "michael@example.com": { name: "Michael", groups: { Friends: true } } },
      bob: { "alice@localhost": { name: "Alice" } },
      broken: "500",
    };
    admin = setupRosterAdmin({ roster: mem.access }, options());
  });

  it("adds, changes and removes, and sends nothing when the roster already matches", async () => {
    const first = await admin.sync("alice");
    expect(first).toMatchObject({ user: "alice", added: 2, changed: 0, removed: 0, unchanged: 0 });
    expect(mem.rosters.get("alice@localhost")!.get("marie@example.com")).toEqual({
      jid: "marie@example.com",
      name: "Marie",
      subscription: "both",
      groups: ["Friends"],
    });

    mem.sets.length = 0;
    expect(await admin.sync("alice")).toMatchObject({ added: 0, changed: 0, removed: 0, unchanged: 2 });
    expect(mem.sets).toEqual([]);

    web.alice = { "marie@example.com": { name: "Marie Curie", groups: ["Friends"] }, "new@example.com": {} };
    expect(await admin.sync("alice")).toMatchObject({ added: 1, changed: 1, removed: 1, unchanged: 0 });
    expect(mem.sets.map((s) => `${s.change} ${s.jid}`).sort()).toEqual(["add new@example.com", "change marie@example.com", "remove michael@example.com"]);
  });

  it("with a roster that batches, a user's edits go in sets of batchSize; a refused item fails the sync and names what was applied", async () => {
    const calls: number[] = [];
    mem.access.batchSize = 3;
    mem.access.setMany = async (user, edits) => {
      calls.push(edits.length);
      return Promise.all(
        edits.map(({ item, change }) =>
          mem.access.set(user, item, change).then(
            () => undefined,
            (e: Error) => e,
          ),
        ),
      );
    };
    web.alice = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`c${i}@example.com`, { name: `C${i}` }]));
    expect(await admin.sync("alice")).toMatchObject({ added: 7 });
    expect(calls).toEqual([3, 3, 1]);
    expect(mem.rosters.get("alice@localhost")!.size).toBe(7);

    mem.failSetWhen((jid) => jid === "c8@example.com");
    web.alice = { ...(web.alice as object), "c7@example.com": {}, "c8@example.com": {} };
    const err = await admin.sync("alice").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RosterSyncError);
    expect(err).toMatchObject({ reason: "roster-set", applied: [{ jid: "c7@example.com", change: "add" }] });
    expect(calls).toEqual([3, 3, 1, 2]);
  });

  it("with a roster that replaces, one request per user and no roster get; a refused contact fails the sync with what was applied", async () => {
    const replaced: string[][] = [];
    let gets = 0;
    const get = mem.access.get;
    mem.access.get = (user) => {
      gets++;
      return get(user);
    };
    mem.access.batchSize = 250;
    mem.access.replace = async (user, items) => {
      replaced.push(items.map((i) => i.jid));
      if (items.some((i) => i.jid === user))
        return {
          applied: [{ jid: "marie@example.com", change: "add" }],
          refused: [{ jid: user, error: "not-allowed" }],
          added: 1,
          changed: 0,
          removed: 0,
          unchanged: 0,
        };
      return {
        applied: [
          { jid: "marie@example.com", change: "add" },
          { jid: "old@example.com", change: "remove" },
        ],
        refused: [],
        added: 1,
        changed: 0,
        removed: 1,
        unchanged: 1,
      };
    };
    expect(await admin.sync("alice")).toMatchObject({ added: 1, changed: 0, removed: 1, unchanged: 1, requests: 1 });
    expect(replaced).toEqual([["marie@example.com", "michael@example.com"]]);
    expect(gets).toBe(0);

    web.alice = { "alice@localhost": {}, "marie@example.com": {} };
    const err = await admin.sync("alice").catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: "roster-set", applied: [{ jid: "marie@example.com", change: "add" }] });
    expect((err as Error).message).toMatch(
      /^the server refused 1 of 2 contacts for alice@localhost \(first: alice@localhost: not-allowed\); 1 changes were applied$/,
    );
  });

  it("leaves a user's roster alone when the web app fails, and other users are not held up", async () => {
    await admin.sync("alice");
    mem.sets.length = 0;
    web.alice = "bad-json";
    const result = await admin.refresh(["alice", "bob", "broken"]);
    expect(result).toEqual({ status: "ok", message: "roster update complete; 2 of 3 users failed (see the log)", updated: 1, errors: 2 });
    expect(mem.sets).toEqual([{ user: "bob@localhost", jid: "alice@localhost", change: "add" }]);
    expect(mem.rosters.get("alice@localhost")!.size).toBe(2);
  });

  it("summarises like Prosody's API: [] is ok at once, duplicates count once, all failing is an error", async () => {
    expect(await admin.refresh([])).toEqual({ status: "ok", message: "roster update complete", updated: 0, errors: 0 });
    expect(await admin.refresh(["bob", "BOB", "bob"])).toEqual({ status: "ok", message: "roster update complete", updated: 1, errors: 0 });
    const failed = await admin.refresh(["broken"]);
    expect(failed).toMatchObject({ status: "error", updated: 0, errors: 1 });
    expect(failed.message).toMatch(/^roster update failed: fetching http:\/\/127\.0\.0\.1:\d+\/roster\/broken: HTTP 500: boom$/);
  });

  it("reports each failure with a reason, as an event and as a RosterSyncError", async () => {
    const failures: string[] = [];
    admin.on("sync-failed", (f) => void failures.push(`${f.user} ${f.reason}`));
    web.slow = "slow";
    await expect(admin.sync("broken")).rejects.toMatchObject({ reason: "http-status" });
    await expect(admin.sync("slow")).rejects.toMatchObject({ reason: "timeout" });
    await expect(admin.sync("no/slash")).rejects.toBeInstanceOf(RosterSyncError);
    mem.failSetWhen((jid) => jid === "michael@example.com");
    await expect(admin.sync("alice")).rejects.toMatchObject({
      reason: "roster-set",
      message: expect.stringContaining("1 of 2 roster sets for alice@localhost failed (first: michael@example.com"),
      applied: [{ jid: "marie@example.com", change: "add" }],
    });
    expect(failures).toEqual(["broken http-status", "slow timeout", "no/slash invalid-username", "alice roster-set"]);
  });

  it("never runs two syncs of one user at once; requests during a sync share one follow-up that sees new data", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const get = mem.access.get;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r)); // the first sync's roster get, until the others are asked for
    mem.access.get = async (user) => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      try {
        await held;
        return await get(user);
      } finally {
        inFlight--;
      }
    };
    const before = app.requests.length;
    const first = admin.sync("alice");
    await waitFor(() => app.requests.length > before, "the first sync's web request");
    web.alice = { "late@example.com": {} };
    const later = [admin.sync("alice"), admin.sync("alice")];
    release();
    const [a, b, c] = await Promise.all([first, ...later]);
    expect(maxInFlight).toBe(1);
    expect(a.added).toBe(2);
    expect(b).toBe(c);
    expect(b).toMatchObject({ added: 1, removed: 2 });
    expect(app.requests.slice(before).filter((r) => r.url.endsWith("/alice"))).toHaveLength(2);
    expect(admin.pending).toBe(0);
  });

  it("stop() waits for running syncs and refuses new ones", async () => {
    const running = admin.sync("alice");
    await admin.stop();
    await expect(running).resolves.toMatchObject({ added: 2 });
    await expect(admin.sync("bob")).rejects.toMatchObject({ reason: "stopped" });
  });
});

describe("syncing users as they log in (XEP-0356 presence)", () => {
  let app: HttpBackend;
  beforeAll(async () => {
    app = await startHttpBackend(() => ({ body: { "marie@example.com": { name: "Marie" } } }));
  });
  afterAll(() => app.close());

  const grant = xml(
    "message",
    { from: "localhost", to: "gateway.localhost" },
    xml("privilege", "urn:xmpp:privilege:2", xml("perm", { access: "roster", type: "both" }), xml("perm", { access: "presence", type: "roster" })),
  );
  const presence = (from: string, type?: string) => xml("presence", { from, to: "gateway.localhost", ...(type ? { type } : {}) });

  it("syncs on a user's first available presence, once per login, with a debounce", async () => {
    const mock = await mockComponent<XmppEntity>();
    const kit = setupKit(mock.entity, { serverDomain: "localhost" });
    const mem = memoryRoster();
    const admin = setupRosterAdmin({ roster: mem.access, sessions: kit.sessions }, { url: `${app.url}/%s`, loginDebounce: 60_000 });
    const synced: string[] = [];
    admin.on("synced", (r) => void synced.push(`${r.user} ${r.trigger}`));
    await mock.receive(grant);
    await mock.receive(presence("alice@localhost/phone"));
    await mock.receive(presence("alice@localhost/laptop")); // second resource: no new sync
    await mock.receive(presence("carol@remote.example/r")); // a remote contact: not ours
    await vi_waitFor(() => synced.length === 1);
    await mock.receive(presence("alice@localhost/phone", "unavailable"));
    await mock.receive(presence("alice@localhost/laptop", "unavailable"));
    await mock.receive(presence("alice@localhost/phone")); // back within the debounce window
    await mock.receive(presence("bob@localhost/r1"));
    await vi_waitFor(() => synced.length === 2);
    await admin.stop();
    expect(synced).toEqual(["alice login", "bob login"]);
    expect(mem.rosters.get("bob@localhost")!.has("marie@example.com")).toBe(true);
  });

  it("a client bot syncs its own roster on connect and asks new contacts for a subscription", async () => {
    const mock = await mockClient<XmppEntity>({ jid: "bot@localhost/r" });
    const kit = setupKit(mock.entity);
    const roster = ownRoster({ entity: mock.entity, iq: kit.iq, stanzas: kit.stanzas });
    mock.replyToIq(
      (iq) => iq.attrs.type === "get" && !!iq.getChild("query", "jabber:iq:roster"),
      xml("query", "jabber:iq:roster", xml("item", { jid: "old@example.com", subscription: "both" })),
    );
    mock.replyToIq((iq) => iq.attrs.type === "set", true);
    const admin = setupRosterAdmin({ roster }, { url: `${app.url}/%s` });
    const result = await admin.sync("bot");
    expect(result).toMatchObject({ added: 1, removed: 1 });
    const sets = mock.sent.filter((s) => s.name === "iq" && s.attrs.type === "set").map((s) => s.getChild("query")!.getChild("item")!.attrs);
    expect(sets).toEqual(
      expect.arrayContaining([
        { jid: "marie@example.com", name: "Marie" },
        { jid: "old@example.com", subscription: "remove" },
      ]),
    );
    const presences = mock.sent.filter((s) => s.name === "presence").map((s) => `${s.attrs.type} ${s.attrs.to}`);
    expect(presences).toEqual(["subscribed marie@example.com", "subscribe marie@example.com"]);
    await expect(admin.sync("someoneelse")).rejects.toThrow(/can only sync its own roster/);

    // Roster pushes from the server are answered with a result; a "push" from anyone else is refused.
    const push = (from: string, id: string) =>
      xml("iq", { type: "set", id, from, to: "bot@localhost/r" }, xml("query", "jabber:iq:roster", xml("item", { jid: "x@example.com" })));
    await mock.receive(push("bot@localhost", "push1"));
    await mock.receive(push("mallory@evil.example", "push2"));
    expect(mock.sent.find((s) => s.attrs.id === "push1")!.attrs.type).toBe("result");
    expect(mock.sent.find((s) => s.attrs.id === "push2")!.attrs.type).toBe("error");
  });
});

async function vi_waitFor(cond: () => boolean, ms = 3000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met");
    await new Promise((r) => setTimeout(r, 10));
  }
}
