import { startHttpBackend, type HttpBackend } from "@xmppkit/testing";
import { afterEach, describe, expect, it } from "vitest";
import { ejabberdApiRoster, mergeRosterRows } from "./ejabberd-api.js";

describe("ejabberd admin API roster writer", () => {
  let api: HttpBackend | undefined;
  afterEach(() => api?.close());

  // get_roster's answers, byte for byte, recorded from Debian's ejabberd 23.01 and bookworm-backports'
  // 24.12 after the same contacts were added.
  const GET_ROSTER_23_01 =
    '[{"jid":"dave@example.com","nick":"","subscription":"none","ask":"undefined","group":""},{"jid":"carol@localhost","nick":"Carol","subscription":"both","ask":"undefined","group":"A"},{"jid":"carol@localhost","nick":"Carol","subscription":"both","ask":"undefined","group":"B"}]';
  const GET_ROSTER_24_12 = '[{"subscription":"both","pending":"undefined","nick":"Bob","jid":"bob@localhost","groups":["A","B"]}]';

  it("reads get_roster in 23.01's shape (one row per contact and group) and 24.12's (one row per contact, groups listed)", () => {
    expect(mergeRosterRows(JSON.parse(GET_ROSTER_23_01))).toEqual([
      { jid: "dave@example.com", subscription: "none", groups: [] },
      { jid: "carol@localhost", name: "Carol", subscription: "both", groups: ["A", "B"] },
    ]);
    expect(mergeRosterRows(JSON.parse(GET_ROSTER_24_12))).toEqual([{ jid: "bob@localhost", name: "Bob", subscription: "both", groups: ["A", "B"] }]);
  });

  it("adds with 24.12's groups list, and switches to 23.01's group string for good when the server names the argument", async () => {
    const answer = (older: boolean) => async () => {
      api = await startHttpBackend((req) => {
        const body = JSON.parse(req.body) as Record<string, unknown>;
        if (req.url === "/api/check_account") return { body: 0 };
        // The servers' own refusals (HTTP 400 with a JSON string).
        if (older && "groups" in body) return { status: 400, body: "Request have missing argument: group" };
        if (!older && "group" in body) return { status: 400, body: "Request have unknown arguments: [group]" };
        return { body: 0 };
      });
      const roster = ejabberdApiRoster({ url: `${api.url}/api`, domain: "localhost" });
      // Two at once, as a sync sends them: both may meet the refusal before either has switched.
      await Promise.all([
        roster.set("alice@localhost", { jid: "bob@localhost", subscription: "both", groups: ["A", "B"] }, "add"),
        roster.set("alice@localhost", { jid: "dave@localhost", subscription: "both", groups: ["C"] }, "add"),
      ]);
      await roster.set("alice@localhost", { jid: "carol@localhost", subscription: "both", groups: [] }, "add");
      const adds = api.requests.filter((r) => r.url === "/api/add_rosteritem").map((r) => JSON.parse(r.body) as Record<string, unknown>);
      await api.close();
      api = undefined;
      return adds.map((a) => ("groups" in a ? { groups: a.groups } : { group: a.group }));
    };
    const newer = await answer(false)();
    expect(newer).toHaveLength(3);
    expect(newer).toEqual(expect.arrayContaining([{ groups: ["A", "B"] }, { groups: ["C"] }, { groups: [] }]));
    const older = await answer(true)();
    const refused = older.filter((a) => "groups" in a);
    expect(refused).toHaveLength(2); // each tried once in the newer form
    expect(refused).toEqual(expect.arrayContaining([{ groups: ["A", "B"] }, { groups: ["C"] }]));
    expect(older.filter((a) => "group" in a)).toEqual(expect.arrayContaining([{ group: "A;B" }, { group: "C" }]));
    expect(older.at(-1)).toEqual({ group: "" }); // the older form from then on
  });

  it("checks the account before add_rosteritem (which says 0 for a missing one), and sends ejabberd's arguments", async () => {
    api = await startHttpBackend((req) => {
      const body = JSON.parse(req.body) as Record<string, string>;
      if (req.url === "/api/check_account") return { body: body.user === "alice" ? 0 : 1 };
      return { body: 0 };
    });
    const roster = ejabberdApiRoster({ url: `${api.url}/api`, domain: "localhost", user: "admin@localhost", password: "pw" });
    await roster.set("alice@localhost", { jid: "bob@localhost", name: "Bob", subscription: "both", groups: ["A", "B"] }, "add");
    await roster.set("alice@localhost", { jid: "bob@localhost", groups: [] }, "remove");
    await expect(roster.set("nobody@localhost", { jid: "bob@localhost", groups: [] }, "add")).rejects.toThrow(/no account nobody@localhost/);
    expect(api.requests.map((r) => [r.url, JSON.parse(r.body)])).toEqual([
      ["/api/check_account", { user: "alice", host: "localhost" }],
      ["/api/add_rosteritem", { localuser: "alice", localhost: "localhost", user: "bob", host: "localhost", nick: "Bob", subs: "both", groups: ["A", "B"] }],
      ["/api/delete_rosteritem", { localuser: "alice", localserver: "localhost", user: "bob", server: "localhost" }],
      ["/api/check_account", { user: "nobody", host: "localhost" }],
    ]);
    expect(api.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from("admin@localhost:pw").toString("base64")}`);
  });
});
