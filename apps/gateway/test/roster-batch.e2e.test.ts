// End-to-end: http-roster-admin with Prosody's companion module mod_xmppkit_roster_batch, loaded from the
// package's prosody/ folder exactly as an operator would (plugin_paths + modules_enabled), on Prosody's file
// storage and on its SQL storage (lua-dbi-sqlite3). The gateway finds the feature on the server's disco#info and
// sends each user's edits in one set; the module's own answers (refused items, forbidden, unknown account,
// too many items) are checked with raw IQs.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { component as xmppComponent } from "@xmpp/component";
import { StanzaError, xml, type EventRecord } from "@xmppkit/core";
import {
  NS_ROSTER_BATCH,
  rosterBatchElement,
  rosterReplaceElement,
  rosterReplaceResult,
  rosterVersion,
  rosterVersionElement,
  type RosterEdit,
} from "@xmppkit/http-roster-admin";
import { loginClient, startHttpBackend, startProsody, type HttpBackend, type Prosody, type TestClient, suiteServers } from "@xmppkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type Gateway } from "../src/gateway.js";
import { captureLogger, closeClient, testConfig, waitFor } from "./helpers.js";

const PLUGINS = join(dirname(createRequire(import.meta.url).resolve("@xmppkit/http-roster-admin/package.json")), "prosody");
const TOKEN = "e2e-roster-batch-token-0123456789";

const contacts = (n: number, tag = "") =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`c${i}@example.com`, { name: `Contact ${i}${tag}`, groups: [`G${i % 3}`] }]));

/** The gateway with http-roster-admin reading `webApp`, syncing on request only, plus one option line. */
const rosterConfig = (prosody: Prosody, webApp: HttpBackend, option: string) =>
  testConfig(
    prosody,
    `modules_enabled: [http-roster-admin]
http-roster-admin:
  http_roster_url: ${webApp.url}/contacts/%s
  http_roster_sync_on_login: false
  ${option}
`,
    { token: TOKEN },
  );

describe.each(suiteServers(["prosody"]))("$id", ({ root }) => {
  describe.each(["internal", "sql"] as const)("roster batches with mod_xmppkit_roster_batch, Prosody storage %s", (storage) => {
    let prosody: Prosody;
    let gateway: Gateway;
    let webApp: HttpBackend;
    let alice: TestClient;
    let gatewayConfig: ReturnType<typeof rosterConfig>;
    const web: Record<string, Record<string, unknown>> = {};
    const events: EventRecord[] = [];
    const log = captureLogger();

    const refresh = (users: string[]) =>
      fetch(`${gateway.http.url}/roster_admin/refresh`, {
        method: "POST",
        body: JSON.stringify(users),
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      }).then((r) => r.json() as Promise<{ updated: number; errors: number }>);
    const rosterOf = async (client: TestClient) =>
      (await client.fetchRoster())
        .getChild("query")!
        .getChildren("item")
        .map((i) => ({
          jid: i.attrs.jid as string,
          name: i.attrs.name as string,
          subscription: i.attrs.subscription as string,
          groups: i.getChildren("group").map((g) => g.getText()),
        }))
        .sort((a, b) => a.jid.localeCompare(b.jid, "en", { numeric: true }));
    /** The payload of the newest roster-synced event. */
    const lastSync = () => events.filter((e) => e.type === "roster-synced").at(-1)!.payload;
    /** The contacts in `user`'s roster on the server, sorted. */
    const serverJids = async (user: string) => (await gateway.kit.privilege.rosterGet(`${user}@localhost`)).map((i) => i.jid).sort();
    const batchSets = () => prosody.logTail(200_000).match(/roster items set for \S+ in one save/g)?.length ?? 0;
    const perItemSets = () => prosody.logTail(200_000).match(/Roster set from allowed privileged entity received/g)?.length ?? 0;

    beforeAll(async () => {
      webApp = await startHttpBackend((req) => ({ body: web[decodeURIComponent(req.url.split("/").pop()!)] ?? {} }));
      prosody = await startProsody({
        root,
        pluginPaths: [PLUGINS],
        modules: ["xmppkit_roster_batch"],
        globalConfig: "roster_batch_max_items = 30",
        storage,
        components: [{ privileges: false }],
      });
      await prosody.createUser("carol", "carolpw");
      await prosody.createUser("dave", "davepw");
      gatewayConfig = rosterConfig(prosody, webApp, "http_roster_batch_size: 20");
      const { config, sourceMap } = gatewayConfig;
      gateway = await startGateway(config, { logger: log.logger, sourceMap });
      gateway.events.onAny((e) => void events.push(e));
      await waitFor(() => log.lines().find((l) => String(l.msg).startsWith("the server batches roster sets")), "the batch feature detected");
      alice = await loginClient(prosody, "alice");
      await alice.fetchRoster(); // Prosody pushes roster changes only to resources that fetched the roster
    });

    afterAll(async () => {
      await alice?.stop();
      await gateway?.stop();
      await prosody?.stop();
      await webApp?.close();
    });

    it("alice's 50 contacts are more than the module takes (30): the replace is refused, and the edits go in sets of 20, no per-item set", async () => {
      const info = (await gateway.kit.iq.get(xml("query", "http://jabber.org/protocol/disco#info"), "localhost"))!;
      expect(info.getChildren("feature").map((f) => f.attrs.var)).toContain(NS_ROSTER_BATCH);
      web.alice = contacts(50);
      const before = alice.rosterPushes.length;
      expect(await refresh(["alice"])).toMatchObject({ updated: 1, errors: 0 });
      const roster = await rosterOf(alice);
      expect(roster).toHaveLength(50);
      expect(roster[7]).toEqual({ jid: "c7@example.com", name: "Contact 7", subscription: "both", groups: ["G1"] });
      await waitFor(() => alice.rosterPushes.length - before >= 50 || undefined, "50 roster pushes");
      expect(batchSets()).toBe(3);
      expect(perItemSets()).toBe(0);
      expect(lastSync()).toMatchObject({ user: "alice", added: 50, requests: 3 });
    });

    it("bob's roster: replaced in one request, then only the difference sent (renames and removals pushed), then nothing", async () => {
      const bob = await loginClient(prosody, "bob");
      try {
        await bob.fetchRoster();
        web.bob = contacts(20);
        expect(await refresh(["bob"])).toMatchObject({ updated: 1, errors: 0 });
        expect(lastSync()).toMatchObject({ user: "bob", added: 20, unchanged: 0, requests: 1 });
        await waitFor(() => bob.rosterPushes.length >= 20 || undefined, "20 roster pushes"); // sent after the answer
        const sets = batchSets();
        web.bob = contacts(17);
        for (const jid of ["c1@example.com", "c2@example.com"]) (web.bob[jid] as { name: string }).name += " (renamed)";
        const before = bob.rosterPushes.length;
        expect(await refresh(["bob"])).toMatchObject({ updated: 1, errors: 0 });
        expect(lastSync()).toMatchObject({
          added: 0,
          changed: 2,
          removed: 3,
          unchanged: 15,
          requests: 1,
        });
        expect(batchSets()).toBe(sets + 1);
        const roster = await rosterOf(bob);
        expect(roster).toHaveLength(17);
        expect(roster.find((i) => i.jid === "c2@example.com")!.name).toBe("Contact 2 (renamed)");
        await waitFor(() => bob.rosterPushes.length - before >= 5 || undefined, "5 roster pushes");
        const pushed = bob.rosterPushes.slice(before).map((iq) => iq.getChild("query")!.getChild("item")!.attrs);
        expect(
          pushed
            .filter((a) => a.subscription === "remove")
            .map((a) => a.jid)
            .sort(),
        ).toEqual(["c17@example.com", "c18@example.com", "c19@example.com"]);
        expect(await refresh(["bob"])).toMatchObject({ updated: 1 });
        expect(lastSync()).toMatchObject({
          added: 0,
          changed: 0,
          removed: 0,
          unchanged: 17,
          requests: 0, // the roster's version only: nothing changed since the gateway applied it
        });
        expect(batchSets()).toBe(sets + 1); // nothing written
        await rosterOf(bob); // a round trip: a push from that refresh would have come before this answer
        expect(bob.rosterPushes.length - before).toBe(5);
      } finally {
        await bob.stop();
      }
    });

    it("a contact the user removes with their own client comes back at the next refresh; an unchanged refresh only asks the version", async () => {
      const erin = await prosody.createUser("erin", "erinpw");
      const client = await loginClient(prosody, erin.username, { password: "erinpw" });
      try {
        web.erin = contacts(6);
        expect(await refresh(["erin"])).toMatchObject({ updated: 1, errors: 0 });
        const sets = batchSets();
        expect(await refresh(["erin"])).toMatchObject({ updated: 1, errors: 0 });
        expect(lastSync()).toMatchObject({ user: "erin", unchanged: 6, requests: 0 });
        expect(batchSets()).toBe(sets);

        await client.request(xml("iq", { type: "set" }, xml("query", "jabber:iq:roster", xml("item", { jid: "c4@example.com", subscription: "remove" }))));
        expect((await rosterOf(client)).map((i) => i.jid)).not.toContain("c4@example.com");
        expect(await refresh(["erin"])).toMatchObject({ updated: 1, errors: 0 });
        expect(lastSync()).toMatchObject({ user: "erin", added: 1, unchanged: 5, requests: 1 });
        expect(await rosterOf(client)).toHaveLength(6);
      } finally {
        await client.stop();
      }
    });

    it("an offline user's version is known without reading the roster (file storage); a write by another still moves it", async () => {
      web.henry = contacts(4);
      await prosody.createUser("henry", "henrypw");
      expect(await refresh(["henry"])).toMatchObject({ updated: 1, errors: 0 });
      const loads = () => prosody.logTail(200_000).match(/load_roster: asked for: henry@localhost/g)?.length ?? 0;
      const before = loads();
      expect(before).toBeGreaterThan(0); // the set loaded it
      expect(await refresh(["henry"])).toMatchObject({ updated: 1, errors: 0 });
      expect(lastSync()).toMatchObject({ user: "henry", unchanged: 4, requests: 0 });
      // On file storage the module remembers the version it wrote; on SQL storage it cannot see others' writes.
      expect(loads() - before).toBe(storage === "internal" ? 0 : 1);

      // Another writer while henry is offline: mod_privilege's own roster set (one item, a whole save). It
      // loads the roster from storage: the module did not leave it in Prosody's roster cache.
      await gateway.kit.iq.set(xml("query", "jabber:iq:roster", xml("item", { jid: "c1@example.com", subscription: "remove" })), "henry@localhost");
      const log = prosody.logTail(200_000);
      const lastLoad = log.slice(log.lastIndexOf("load_roster: asked for: henry@localhost"));
      expect(lastLoad.match(/load_roster: cache (hit|miss)/)?.[1]).toBe("miss");
      expect(await refresh(["henry"])).toMatchObject({ updated: 1, errors: 0 });
      expect(lastSync()).toMatchObject({ user: "henry", added: 1, unchanged: 3, requests: 1 });
      expect(await serverJids("henry")).toEqual(Object.keys(contacts(4)).sort());
    });

    if (storage === "internal")
      it("a roster file another process wrote is seen: a remembered version is used only while its file is the same", async () => {
        web.ivan = contacts(3);
        await prosody.createUser("ivan", "ivanpw");
        expect(await refresh(["ivan"])).toMatchObject({ updated: 1, errors: 0 });
        // As another Prosody process would write it (prosodyctl, a migration tool): c1 gone, the save counter
        // moved on, the file replaced by a rename. No util.datamanager callback in this process sees it.
        const file = join(prosody.dir, "data", "localhost", "roster", "ivan.dat");
        const text = readFileSync(file, "utf8");
        const edited = text
          .replace(/\["c1@example\.com"\]=\{[^{}]*\{[^{}]*\}[^{}]*\};/, "")
          .replace(/\["version"\]=(\d+)/, (_, n: string) => `["version"]=${Number(n) + 1}`);
        expect(edited).not.toBe(text);
        expect(edited).not.toContain("c1@example.com");
        writeFileSync(`${file}~`, edited);
        renameSync(`${file}~`, file);
        expect(await refresh(["ivan"])).toMatchObject({ updated: 1, errors: 0 });
        expect(lastSync()).toMatchObject({ user: "ivan", added: 1, requests: 1 });
        expect(await serverJids("ivan")).toEqual(Object.keys(contacts(3)).sort());
      });

    it("an account deleted by its user (XEP-0077) and made again gets its roster back at the next refresh", async () => {
      web.judy = contacts(3);
      await prosody.createUser("judy", "judypw");
      expect(await refresh(["judy"])).toMatchObject({ updated: 1, errors: 0 });
      expect(await refresh(["judy"])).toMatchObject({ updated: 1, errors: 0 });
      expect(lastSync()).toMatchObject({ user: "judy", requests: 0 });
      const judy = await loginClient(prosody, "judy", { password: "judypw" });
      await judy.request(xml("iq", { type: "set" }, xml("query", "jabber:iq:register", xml("remove")))).catch(() => undefined);
      await judy.stop().catch(() => undefined);
      const account = join(prosody.dir, "data", "localhost", "accounts", "judy.dat");
      await waitFor(() => !existsSync(account) || undefined, "judy's account deleted");
      await prosody.createUser("judy", "judypw2");
      expect(await refresh(["judy"])).toMatchObject({ updated: 1, errors: 0 });
      expect(lastSync()).toMatchObject({ user: "judy", added: 3, requests: 1 });
      expect(await serverJids("judy")).toEqual(Object.keys(contacts(3)).sort());
    });

    it("the module's versions: a get answers the version alone; a set at an old version is refused whole (conflict)", async () => {
      web.frank = contacts(3);
      await prosody.createUser("frank", "frankpw");
      expect(await refresh(["frank"])).toMatchObject({ updated: 1, errors: 0 });
      const ver = rosterVersion(await gateway.kit.iq.get(rosterVersionElement(), "frank@localhost"));
      expect(ver).toMatch(/^[\w-]+:\d+$/);
      const added = rosterReplaceResult(
        await gateway.kit.iq.set(rosterBatchElement([{ item: { jid: "new@example.com", groups: [] }, change: "add" }], { ifVer: ver! }), "frank@localhost"),
      );
      expect(added).toMatchObject({ added: 1, changed: 0, removed: 0, applied: [] }); // counted, named only beside a refusal
      expect(added.ver).not.toBe(ver);
      expect(added.ver!.split(":")[0]).toBe(ver!.split(":")[0]);
      const stale = await gateway.kit.iq
        .set(rosterBatchElement([{ item: { jid: "c0@example.com", groups: [] }, change: "remove" }], { ifVer: ver! }), "frank@localhost")
        .catch((e: unknown) => e);
      expect(StanzaError.isInstance(stale) && stale.condition).toBe("conflict");
      expect((await gateway.kit.privilege.rosterGet("frank@localhost")).map((i) => i.jid).sort()).toEqual([
        "c0@example.com",
        "c1@example.com",
        "c2@example.com",
        "new@example.com",
      ]);
      // The gateway's record is now behind the server: the next refresh replaces, and removes the stray contact.
      expect(await refresh(["frank"])).toMatchObject({ updated: 1, errors: 0 });
      expect(lastSync()).toMatchObject({ user: "frank", removed: 1, requests: 1 });
    });

    it("after a restart on the same store, an unchanged refresh writes nothing", async () => {
      web.grace = contacts(4);
      await prosody.createUser("grace", "gracepw");
      expect(await refresh(["grace"])).toMatchObject({ updated: 1, errors: 0 });
      await gateway.stop();
      const { config, sourceMap } = gatewayConfig;
      gateway = await startGateway(config, { logger: log.logger, sourceMap });
      gateway.events.onAny((e) => void events.push(e));
      await waitFor(() => log.lines().filter((l) => String(l.msg).startsWith("the server batches roster sets")).length >= 2 || undefined, "batching again");
      const sets = batchSets();
      expect(await refresh(["grace"])).toMatchObject({ updated: 1, errors: 0 });
      expect(lastSync()).toMatchObject({ user: "grace", unchanged: 4, requests: 0 });
      expect(batchSets()).toBe(sets);
    });

    it("a user who is offline gets the roster stored, and sees it at login", async () => {
      web.dave = contacts(25);
      expect(await refresh(["dave"])).toMatchObject({ updated: 1, errors: 0 });
      const dave = await loginClient(prosody, "dave", { password: "davepw" });
      try {
        expect(await rosterOf(dave)).toHaveLength(25);
      } finally {
        await dave.stop();
      }
    });

    it("the module's answers: a refused item is named, the others applied (batch and replace); an unknown account and too many items are refused whole", async () => {
      const edits: RosterEdit[] = [
        { item: { jid: "carol@localhost", groups: [] }, change: "add" }, // her own JID: not allowed
        { item: { jid: "dave@example.com/phone", groups: [] }, change: "add" }, // a full JID: bad request
        { item: { jid: "erin@example.com", name: "Erin", subscription: "both", groups: ["Friends"] }, change: "add" },
        { item: { jid: "nobody@example.com", groups: [] }, change: "remove" }, // absent: done, not an error
      ];
      const replaced = (await gateway.kit.iq.set(rosterReplaceElement(edits.map((e) => e.item)), "carol@localhost"))!;
      expect(replaced.getChildren("item").map((i) => i.attrs)).toEqual(
        expect.arrayContaining([
          { jid: "carol@localhost", error: "not-allowed" },
          { jid: "erin@example.com", change: "add" },
        ]),
      );
      await gateway.kit.iq.set(rosterReplaceElement([]), "carol@localhost"); // an empty roster
      expect(await gateway.kit.privilege.rosterGet("carol@localhost")).toEqual([]);
      const reply = (await gateway.kit.iq.set(rosterBatchElement(edits), "carol@localhost"))!;
      expect(reply.getChildren("item").map((i) => i.attrs)).toContainEqual({ jid: "erin@example.com", change: "add" });
      expect(
        reply
          .getChildren("item")
          .filter((i) => i.attrs.error)
          .map((i) => i.attrs),
      ).toEqual([
        { jid: "carol@localhost", error: "not-allowed" },
        { jid: "dave@example.com/phone", error: "bad-request" },
      ]);
      const roster = (await gateway.kit.privilege.rosterGet("carol@localhost")).map((i) => i.jid);
      expect(roster).toEqual(["erin@example.com"]);

      const unknown = await gateway.kit.iq.set(rosterBatchElement(edits.slice(2, 3)), "nobody-here@localhost").catch((e: unknown) => e);
      expect(StanzaError.isInstance(unknown) && unknown.condition).toBe("item-not-found");
      const many = Array.from({ length: 31 }, (_, i): RosterEdit => ({ item: { jid: `m${i}@example.com`, groups: [] }, change: "add" }));
      const tooMany = await gateway.kit.iq.set(rosterBatchElement(many), "carol@localhost").catch((e: unknown) => e);
      expect(StanzaError.isInstance(tooMany) && tooMany.condition).toBe("policy-violation");
    });

    it("the rosters the module wrote load back after a Prosody restart, versions included", async () => {
      web.hank = { ...contacts(12), "quote@example.com": { name: 'Say "hi" \\ é ✓ [[x]]', groups: ["Ünï", "a;b"] } };
      await prosody.createUser("hank", "hankpw");
      expect(await refresh(["hank"])).toMatchObject({ updated: 1, errors: 0 });
      const before = await gateway.kit.privilege.rosterGet("hank@localhost");
      const ver = rosterVersion(await gateway.kit.iq.get(rosterVersionElement(), "hank@localhost"));
      await prosody.restart();
      let lastError: unknown;
      await waitFor(
        () =>
          gateway.kit.iq.get(rosterVersionElement(), "hank@localhost", { timeout: 1000 }).then(
            (r) => r,
            (err: unknown) => {
              lastError = err;
              return undefined;
            },
          ),
        "the link back after the restart",
      ).catch((err: Error) => {
        const lines = log
          .lines()
          .slice(-15)
          .map((l) => JSON.stringify(l))
          .join("\n");
        throw new Error(`${err.message}; the last answer: ${String(lastError)}\nGATEWAY:\n${lines}`);
      });
      const after = await gateway.kit.privilege.rosterGet("hank@localhost");
      const byJid = (items: typeof before) => items.map((i) => ({ ...i, groups: [...i.groups].sort() })).sort((a, b) => a.jid.localeCompare(b.jid));
      expect(byJid(after)).toEqual(byJid(before));
      expect(after.find((i) => i.jid === "quote@example.com")).toMatchObject({ name: 'Say "hi" \\ é ✓ [[x]]', subscription: "both" });
      expect(rosterVersion(await gateway.kit.iq.get(rosterVersionElement(), "hank@localhost"))).toBe(ver);
      const sets = batchSets();
      expect(await refresh(["hank"])).toMatchObject({ updated: 1, errors: 0 });
      expect(lastSync()).toMatchObject({ user: "hank", unchanged: 13, requests: 0 });
      expect(batchSets()).toBe(sets);
      const client = await loginClient(prosody, "hank", { password: "hankpw" });
      try {
        expect(await rosterOf(client)).toHaveLength(13);
      } finally {
        await client.stop();
      }
    }, 60_000);

    it("a component without the roster grant is refused (forbidden), and nothing is written", async () => {
      const other = prosody.components[1]!;
      const entity = xmppComponent({ service: other.service, domain: other.domain, password: other.secret });
      entity.on("error", () => undefined);
      await entity.start();
      try {
        const reply = await entity.iqCaller
          .request(
            xml(
              "iq",
              { type: "set", to: "carol@localhost", from: other.domain },
              rosterBatchElement([{ item: { jid: "mallory@example.com", groups: [] }, change: "add" }]),
            ),
          )
          .catch((e: { condition?: string }) => e);
        expect((reply as { condition?: string }).condition).toBe("forbidden");
      } finally {
        await closeClient(entity);
      }
      expect((await gateway.kit.privilege.rosterGet("carol@localhost")).map((i) => i.jid)).toEqual(["erin@example.com"]);
    });
  });
});

describe.each(suiteServers(["prosody"]))("$id", ({ root }) => {
  describe("without the companion module", () => {
    let prosody: Prosody;
    let gateway: Gateway;
    let webApp: HttpBackend;
    const log = captureLogger();

    beforeAll(async () => {
      webApp = await startHttpBackend(() => ({ body: contacts(5) }));
      prosody = await startProsody({ root });
      const { config, sourceMap } = rosterConfig(prosody, webApp, "http_roster_batch: true");
      gateway = await startGateway(config, { logger: log.logger, sourceMap });
    });
    afterAll(async () => {
      await gateway?.stop();
      await prosody?.stop();
      await webApp?.close();
    });

    it("says so when asked to batch, and syncs with one privileged set per contact", async () => {
      await waitFor(() => log.lines().find((l) => String(l.msg).startsWith("http_roster_batch is true but the server does not advertise")), "the warning");
      const res = await fetch(`${gateway.http.url}/roster_admin/refresh`, {
        method: "POST",
        body: '["alice"]',
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      });
      expect(await res.json()).toMatchObject({ updated: 1, errors: 0 });
      expect(prosody.logTail(200_000).match(/Roster set from allowed privileged entity received/g)).toHaveLength(5);
      expect((await gateway.kit.privilege.rosterGet("alice@localhost")).map((i: { jid: string }) => i.jid).sort()).toHaveLength(5);
    });
  });
});
