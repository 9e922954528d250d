import { NS_DISCO_INFO, NS_STANZAS, setupKit, xml, type Element, type Kit, type XmppEntity } from "@xmppkit/core";
import { captureLogger, fakeTime, mockComponent, type MockEntity } from "@xmppkit/testing";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { NS_ACCOUNT_INFO, accountCreation, queryAccountCreated, supportsAccountInfo, type AccountCreationOptions } from "./account-info.js";

const GW = "gateway.localhost";
const time = fakeTime(vi);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
  vi.setSystemTime(new Date("2026-12-01T08:00:00Z"));
});
afterEach(() => {
  vi.useRealTimers();
});

async function component(): Promise<{ mock: MockEntity<XmppEntity>; kit: Kit }> {
  const mock = await mockComponent<XmppEntity>({ domain: GW });
  return { mock, kit: setupKit(mock.entity, { serverDomain: "localhost", ping: { interval: 0 } }) };
}

const asked = (mock: MockEntity<XmppEntity>) => mock.sent.filter((s) => s.name === "iq" && s.getChild("query", NS_ACCOUNT_INFO));
const userOf = (iq: Element) => String(iq.getChild("query", NS_ACCOUNT_INFO)!.getChild("account")!.attrs.user);
const stanzaError = (condition: string, type = "cancel") => xml("error", { type }, xml(condition, NS_STANZAS));

/** The server knows these creation times; users not listed do not exist. */
function server(mock: MockEntity<XmppEntity>, created: Record<string, string | null>) {
  return mock.replyToIq(
    (s) => s.attrs.to === "localhost" && !!s.getChild("query", NS_ACCOUNT_INFO),
    (iq) => {
      const user = userOf(iq);
      if (!(user in created)) return stanzaError("item-not-found");
      const at = created[user];
      return xml("query", NS_ACCOUNT_INFO, xml("account", { user, ...(at ? { created: at } : {}) }));
    },
  );
}

describe("the server's feature and one query", () => {
  it("supportsAccountInfo reads the server's disco#info; no answer is false", async () => {
    const { mock, kit } = await component();
    const off = mock.replyToIq((s) => !!s.getChild("query", NS_DISCO_INFO), xml("query", NS_DISCO_INFO, xml("feature", { var: NS_ACCOUNT_INFO })));
    expect(await time.settle(supportsAccountInfo(kit.iq, "localhost"))).toBe(true);
    off();
    mock.replyToIq((s) => !!s.getChild("query", NS_DISCO_INFO), xml("query", NS_DISCO_INFO, xml("feature", { var: "urn:xmpp:ping" })));
    expect(await time.settle(supportsAccountInfo(kit.iq, "localhost"))).toBe(false);
    expect(await time.settle(supportsAccountInfo(kit.iq, "silent.example", { timeout: 50 }))).toBe(false);
  });

  it("queryAccountCreated asks the user's server by username and reads a XEP-0082 DateTime", async () => {
    const { mock, kit } = await component();
    server(mock, { alice: "2026-11-20T10:11:12Z", old: null });
    expect(await time.settle(queryAccountCreated(kit.iq, "alice@localhost"))).toEqual(new Date("2026-11-20T10:11:12Z"));
    const iq = asked(mock)[0]!;
    expect(iq.attrs).toMatchObject({ type: "get", to: "localhost" });
    expect(userOf(iq)).toBe("alice");
    expect(await time.settle(queryAccountCreated(kit.iq, "old@localhost"))).toBeUndefined(); // made before Prosody 13
    expect(await time.settle(queryAccountCreated(kit.iq, "nobody@localhost"))).toBeUndefined(); // item-not-found
    await expect(queryAccountCreated(kit.iq, "localhost")).rejects.toThrow(TypeError);
  });

  it("other errors and a bad date reject", async () => {
    const { mock, kit } = await component();
    mock.replyToIq(
      (s) => s.attrs.to === "localhost",
      (iq) => (userOf(iq) === "bad" ? xml("query", NS_ACCOUNT_INFO, xml("account", { user: "bad", created: "yesterday" })) : stanzaError("forbidden", "auth")),
    );
    await expect(time.settle(queryAccountCreated(kit.iq, "alice@localhost"))).rejects.toMatchObject({ condition: "forbidden" });
    await expect(time.settle(queryAccountCreated(kit.iq, "bad@localhost"))).rejects.toThrow(/not a XEP-0082 DateTime/);
  });
});

describe("accountCreation: cached, bounded, timed", () => {
  async function setup(options: AccountCreationOptions = {}) {
    const { mock, kit } = await component();
    const log = captureLogger();
    const created = accountCreation({ iq: kit.iq, logger: log.logger }, options);
    created.use("localhost", true);
    return { mock, created, log };
  }

  it("asks only the servers in use", async () => {
    const { mock, created } = await setup();
    server(mock, { alice: "2026-11-20T10:11:12Z" });
    expect(await created.created("alice@elsewhere.example")).toBeUndefined();
    created.use("localhost", false);
    expect(await created.created("alice@localhost")).toBeUndefined();
    expect(asked(mock)).toHaveLength(0);
  });

  it("reuses an answer for the TTL, 'no such account' for a minute at most, and one question for concurrent askers", async () => {
    const { mock, created } = await setup({ ttl: 600_000 });
    server(mock, { alice: "2026-11-20T10:11:12Z" });
    const both = await time.settle(Promise.all([created.created("alice@localhost"), created.created("alice@localhost")]));
    expect(both).toEqual([new Date("2026-11-20T10:11:12Z"), new Date("2026-11-20T10:11:12Z")]);
    expect(await time.settle(created.created("nobody@localhost"))).toBeUndefined();
    expect(asked(mock).map(userOf)).toEqual(["alice", "nobody"]);
    await time.sleep(61_000);
    await time.settle(created.created("alice@localhost"));
    await time.settle(created.created("nobody@localhost"));
    expect(asked(mock).map(userOf)).toEqual(["alice", "nobody", "nobody"]);
    await time.sleep(540_000);
    await time.settle(created.created("alice@localhost"));
    expect(asked(mock).map(userOf)).toEqual(["alice", "nobody", "nobody", "alice"]);
  });

  it("a TTL of 0 keeps nothing: each question goes to the server", async () => {
    const { mock, created } = await setup({ ttl: 0 });
    server(mock, { alice: "2026-11-20T10:11:12Z" });
    expect(await time.settle(created.created("alice@localhost"))).toEqual(new Date("2026-11-20T10:11:12Z"));
    expect(await time.settle(created.created("alice@localhost"))).toEqual(new Date("2026-11-20T10:11:12Z"));
    expect(asked(mock)).toHaveLength(2);
  });

  it("keeps at most maxEntries accounts, dropping the least recently asked", async () => {
    const { mock, created } = await setup({ maxEntries: 2 });
    server(mock, { a: "2026-01-01T00:00:00Z", b: "2026-01-02T00:00:00Z", c: "2026-01-03T00:00:00Z" });
    for (const u of ["a", "b", "a", "c", "a", "b"]) await time.settle(created.created(`${u}@localhost`));
    expect(asked(mock).map(userOf)).toEqual(["a", "b", "c", "b"]);
  });

  it("a server that does not answer in time: no date after the timeout, and the next query asks again", async () => {
    const { mock, created } = await setup({ timeout: 2000 });
    let result: Date | undefined | "pending" = "pending";
    void created.created("alice@localhost").then((d) => (result = d));
    await time.sleep(1900);
    expect(result).toBe("pending");
    await time.sleep(200);
    expect(result).toBeUndefined();
    server(mock, { alice: "2026-11-20T10:11:12Z" });
    expect(await time.settle(created.created("alice@localhost"))).toEqual(new Date("2026-11-20T10:11:12Z"));
    expect(asked(mock)).toHaveLength(2);
  });

  it("a refusal (forbidden) stops the asking until the server is used again, with one warning", async () => {
    const { mock, created, log } = await setup();
    const off = mock.replyToIq((s) => !!s.getChild("query", NS_ACCOUNT_INFO), stanzaError("forbidden", "auth"));
    expect(await time.settle(created.created("alice@localhost"))).toBeUndefined();
    expect(await time.settle(created.created("bob@localhost"))).toBeUndefined();
    expect(asked(mock)).toHaveLength(1);
    expect(created.servers.has("localhost")).toBe(false);
    expect(log.lines().filter((l) => l.level === 40)).toEqual([expect.objectContaining({ server: "localhost", condition: "forbidden" })]);
    off();
    server(mock, { bob: "2026-11-20T10:11:12Z" });
    created.use("localhost", true); // the next connect found the feature again
    expect(await time.settle(created.created("bob@localhost"))).toEqual(new Date("2026-11-20T10:11:12Z"));
  });

  it("a passing failure (internal-server-error) is not remembered", async () => {
    const { mock, created } = await setup();
    const off = mock.replyToIq((s) => !!s.getChild("query", NS_ACCOUNT_INFO), stanzaError("internal-server-error", "wait"));
    expect(await time.settle(created.created("alice@localhost"))).toBeUndefined();
    off();
    server(mock, { alice: "2026-11-20T10:11:12Z" });
    expect(await time.settle(created.created("alice@localhost"))).toEqual(new Date("2026-11-20T10:11:12Z"));
    expect(created.servers.has("localhost")).toBe(true);
  });

  it("turning a server off and on forgets its answers", async () => {
    const { mock, created } = await setup();
    server(mock, { alice: "2026-11-20T10:11:12Z" });
    await time.settle(created.created("alice@localhost"));
    created.use("localhost", true); // no change: kept
    await time.settle(created.created("alice@localhost"));
    created.use("localhost", false);
    created.use("localhost", true);
    await time.settle(created.created("alice@localhost"));
    expect(asked(mock)).toHaveLength(2);
  });
});
