import { startHttpBackend, type HttpBackend } from "@xmppkit/testing";
import { afterEach, describe, expect, it } from "vitest";
import { ejabberdApiRoster, mergeRosterRows } from "./ejabberd-api.js";

describe("ejabberd admin API roster writer", () => {
  let api: HttpBackend | undefined;
  afterEach(() => api?.close());

  it("merges get_roster's one-row-per-group answer into one item per contact", () => {
    expect(
      mergeRosterRows([
        { jid: "bob@localhost", nick: "Bob", subscription: "both", ask: "undefined", group: "A" },
        { jid: "bob@localhost", nick: "Bob", subscription: "both", ask: "undefined", group: "B" },
        { jid: "x@example.com", nick: "", subscription: "none", ask: "undefined", group: "" },
      ]),
    ).toEqual([
      { jid: "bob@localhost", name: "Bob", subscription: "both", groups: ["A", "B"] },
      { jid: "x@example.com", subscription: "none", groups: [] },
    ]);
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
      ["/api/add_rosteritem", { localuser: "alice", localhost: "localhost", user: "bob", host: "localhost", nick: "Bob", group: "A;B", subs: "both" }],
      ["/api/delete_rosteritem", { localuser: "alice", localserver: "localhost", user: "bob", server: "localhost" }],
      ["/api/check_account", { user: "nobody", host: "localhost" }],
    ]);
    expect(api.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from("admin@localhost:pw").toString("base64")}`);
  });
});
