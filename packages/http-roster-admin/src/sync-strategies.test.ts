import { createLimiter, silentLogger, type RosterItem } from "@xmppkit/core";
import { beforeEach, describe, expect, it } from "vitest";
import { canonicalRoster, memoryAppliedRosters, rosterFromCanonical, type AppliedRosters } from "./applied-rosters.js";
import type { RosterAccess } from "./roster-access.js";
import type { RosterEdit, RosterReplaceResult } from "./roster-batch.js";
import { RosterSyncError } from "./sync-result.js";
import type { RosterFetcher } from "./fetch-roster.js";
import { readApplied, syncByVersion, versioned, type VersionDeps } from "./sync-strategies.js";
import { createUserSync } from "./user-sync.js";

const USER = "alice@localhost";

/** One user's roster on a server with the roster batch module: versions bumped at every save, as Prosody does. */
function versionedServer() {
  let items = new Map<string, RosterItem>();
  let version = 0;
  const calls: string[] = [];
  const ver = () => (version ? `id:${version}` : undefined);
  const apply = (edits: readonly RosterEdit[], replace: boolean): RosterReplaceResult => {
    const result: RosterReplaceResult = { applied: [], refused: [], added: 0, changed: 0, removed: 0, unchanged: 0 };
    const listed = new Set<string>();
    for (const { item, change } of edits) {
      listed.add(item.jid);
      if (item.jid.includes("/")) result.refused.push({ jid: item.jid, error: "bad-request" });
      else if (change === "remove") items.delete(item.jid) && result.applied.push({ jid: item.jid, change });
      else if (JSON.stringify(items.get(item.jid)) === JSON.stringify(item)) result.unchanged++;
      else {
        result.applied.push({ jid: item.jid, change: items.has(item.jid) ? "change" : "add" });
        items.set(item.jid, item);
      }
    }
    if (replace) for (const jid of [...items.keys()]) if (!listed.has(jid)) items.delete(jid) && result.applied.push({ jid, change: "remove" });
    if (result.applied.length || !version) version++;
    const count = (change: string) => result.applied.filter((a) => a.change === change).length;
    return { ...result, added: count("add"), changed: count("change"), removed: count("remove"), ver: ver() };
  };
  const access: RosterAccess = {
    kind: "privileged",
    domain: "localhost",
    honoursSubscription: true,
    batchSize: 250,
    get: async () => [...items.values()],
    set: async () => void calls.push("set"),
    replace: async (_user, wanted) => {
      calls.push(`replace ${wanted.length}`);
      return apply(
        wanted.map((item) => ({ item, change: "add" })),
        true,
      );
    },
    version: async () => {
      calls.push("version");
      return ver();
    },
    setIfVersion: async (_user, edits, expected) => {
      calls.push(`setIfVersion ${edits.length}`);
      return expected === ver() ? apply(edits, false) : "conflict";
    },
  };
  return {
    access,
    calls,
    roster: () => [...items.values()].sort((a, b) => a.jid.localeCompare(b.jid)),
    /** A change the gateway did not make (a client's edit, a subscription): the version moves. */
    editByHand(jid: string) {
      items = new Map(items);
      items.delete(jid);
      version++;
    },
  };
}

const contacts = (n: number, tag = "") =>
  Array.from({ length: n }, (_, i): RosterItem => ({ jid: `c${i}@example.com`, name: `C${i}${tag}`, subscription: "both", groups: ["G"] }));

describe("syncing by version (the roster batch module's versions)", () => {
  let server: ReturnType<typeof versionedServer>;
  let applied: AppliedRosters;
  let deps: VersionDeps;
  const sync = async (wanted: RosterItem[], body?: string) => syncByVersion(deps, "alice", USER, { items: wanted, body }, await readApplied(deps, USER));
  const syncSame = async () => syncByVersion(deps, "alice", USER, { same: true }, await readApplied(deps, USER));

  beforeEach(() => {
    server = versionedServer();
    applied = memoryAppliedRosters();
    deps = { roster: server.access, pipeline: createLimiter(4), applied, log: silentLogger() };
  });

  it("replaces first; then asks only for the version while neither roster changed, whatever the web app's order", async () => {
    expect(await sync(contacts(5))).toMatchObject({ added: 5, requests: 1 });
    expect(await applied.get(USER)).toEqual({ ver: "id:1", items: canonicalRoster(contacts(5)) });
    server.calls.length = 0;
    expect(await sync(contacts(5).reverse())).toEqual({ added: 0, changed: 0, removed: 0, unchanged: 5, requests: 0 });
    expect(server.calls).toEqual(["version"]);
  });

  it("the same web body again is not read: one version get, its items taken from the applied record", async () => {
    expect(await sync(contacts(5), "digest-1")).toMatchObject({ added: 5, requests: 1 });
    expect(await applied.get(USER)).toEqual({ ver: "id:1", items: canonicalRoster(contacts(5)), body: "digest-1" });
    server.calls.length = 0;
    expect(await syncSame()).toEqual({ added: 0, changed: 0, removed: 0, unchanged: 5, requests: 0 });
    expect(server.calls).toEqual(["version"]);
    // Removed by hand: the same body gives the roster back, from the record.
    server.editByHand("c2@example.com");
    expect(await syncSame()).toMatchObject({ added: 1, requests: 1 });
    expect(server.roster()).toEqual(contacts(5));
    expect(await applied.get(USER)).toEqual({ ver: "id:3", items: canonicalRoster(contacts(5)), body: "digest-1" });
  });

  it("the same roster in another body: nothing sent, the new body's digest kept; a body with skipped contacts keeps none", async () => {
    await sync(contacts(3), "digest-1");
    server.calls.length = 0;
    expect(await sync(contacts(3).reverse(), "digest-2")).toMatchObject({ unchanged: 3, requests: 0 });
    expect(server.calls).toEqual(["version"]);
    expect((await applied.get(USER))!.body).toBe("digest-2");
    expect(await sync(contacts(3), undefined)).toMatchObject({ unchanged: 3, requests: 0 });
    expect((await applied.get(USER))!.body).toBeUndefined();
    await expect(syncByVersion(deps, "bob", "bob@localhost", { same: true }, undefined)).rejects.toThrow(TypeError);
  });

  it("sends only the difference from what it applied, in one request at that version", async () => {
    await sync(contacts(10));
    server.calls.length = 0;
    const wanted = [...contacts(8), { jid: "new@example.com", groups: [] }];
    wanted[3] = { ...wanted[3]!, name: "renamed" };
    expect(await sync(wanted)).toEqual({ added: 1, changed: 1, removed: 2, unchanged: 7, requests: 1 });
    expect(server.calls).toEqual(["setIfVersion 4"]);
    expect(server.roster().map((i) => i.jid)).toEqual(wanted.map((i) => i.jid).sort());
    expect((await applied.get(USER))!.ver).toBe("id:2");
  });

  it("a contact removed by hand comes back at the next refresh, though the web app's roster did not change", async () => {
    await sync(contacts(3));
    server.editByHand("c1@example.com");
    server.calls.length = 0;
    expect(await sync(contacts(3))).toMatchObject({ added: 1, requests: 1 });
    expect(server.calls).toEqual(["version", "replace 3"]);
    expect(server.roster()).toEqual(contacts(3));
  });

  it("a web change after a change by hand: the versioned set is refused (conflict) and the roster replaced", async () => {
    await sync(contacts(3));
    server.editByHand("c0@example.com");
    server.calls.length = 0;
    expect(await sync(contacts(4))).toMatchObject({ added: 2, requests: 1 });
    expect(server.calls).toEqual(["setIfVersion 1", "replace 4"]);
    expect(server.roster()).toEqual(contacts(4));
  });

  it("without versions from the server (a module from before them): a replace each time, nothing recorded", async () => {
    server.access.version = async () => undefined;
    server.access.setIfVersion = undefined;
    expect(versioned(server.access)).toBe(false);
    const runSync = createUserSync({
      ...deps,
      fetchRoster: (async () => ({ items: contacts(2), skipped: [], url: "http://web/alice", attempts: 1, digest: "d" })) as RosterFetcher,
      log: silentLogger(),
      lastSynced: new Map(),
      stopped: () => false,
    });
    await runSync("alice", "api");
    await runSync("alice", "api");
    expect(server.calls).toEqual(["replace 2", "replace 2"]);
    expect(await applied.get(USER)).toBeUndefined();
  });

  it("a store that fails costs the shortcut, not the sync", async () => {
    const failing: AppliedRosters = {
      get: () => Promise.reject(new Error("disk I/O error")),
      set: () => Promise.reject(new Error("disk I/O error")),
      delete: () => Promise.reject(new Error("disk I/O error")),
    };
    deps = { ...deps, applied: failing };
    expect(await sync(contacts(2))).toMatchObject({ added: 2 });
    expect(await sync(contacts(2))).toMatchObject({ unchanged: 2, requests: 1 });
    expect(server.calls).toEqual(["replace 2", "replace 2"]);
  });

  it("an item the server refuses fails the sync and is not recorded as applied", async () => {
    await sync(contacts(2));
    const wanted = [...contacts(2), { jid: "bad@example.com/phone", groups: [] }];
    const err = await sync(wanted).catch((e: unknown) => e);
    expect(RosterSyncError.isInstance(err) && err.reason).toBe("roster-set");
    expect((await applied.get(USER))!.items).toBe(canonicalRoster(contacts(2)));
  });

  it("a failing version get is the sync's failure, with the reason roster-get", async () => {
    await sync(contacts(1));
    server.access.version = () => Promise.reject(new Error("timeout"));
    const err = await sync(contacts(1)).catch((e: unknown) => e);
    expect(RosterSyncError.isInstance(err) && err.reason).toBe("roster-get");
  });
});

describe("the canonical form of a roster", () => {
  it("ignores order and case of domains, writes defaults out, and reads back", () => {
    const a: RosterItem[] = [
      { jid: "b@Example.com", name: "B", groups: ["y", "x"], subscription: "both" },
      { jid: "a@example.com", groups: [] },
    ];
    const b: RosterItem[] = [
      { jid: "a@example.com", name: "", subscription: "none", groups: [] },
      { jid: "b@example.com", name: "B", groups: ["x", "y"], subscription: "both" },
    ];
    expect(canonicalRoster(a)).toBe(canonicalRoster(b));
    expect(rosterFromCanonical(canonicalRoster(a))).toEqual([
      { jid: "a@example.com", groups: [], subscription: "none" },
      { jid: "b@example.com", name: "B", groups: ["x", "y"], subscription: "both" },
    ]);
    expect(canonicalRoster(a)).not.toBe(canonicalRoster([{ ...a[0]!, name: "B2" }, a[1]!]));
  });
});
