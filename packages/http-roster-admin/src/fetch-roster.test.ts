import { createHash } from "node:crypto";
import { freePort, startHttpBackend, type HttpBackend } from "@xmppkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRosterFetcher, RosterFetchError } from "./fetch-roster.js";

describe("fetching a web roster over real HTTP", () => {
  let app: HttpBackend;
  beforeAll(async () => {
    app = await startHttpBackend();
  });
  afterAll(() => app.close());

  const fetcher = (extra: Partial<Parameters<typeof createRosterFetcher>[0]> = {}) =>
    createRosterFetcher({ url: `${app.url}/contacts/%s`, timeout: 300, retries: 0, backoff: { initial: 10, max: 20 }, ...extra });

  const failure = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RosterFetchError);
    return err as RosterFetchError;
  };

  it("GETs the encoded URL with Accept: application/json and the configured headers", async () => {
    app.handle(() => ({ body: { "marie@example.com": { name: "Marie", groups: ["Friends"] } } }));
    const r = await fetcher({ headers: { authorization: "Bearer webapp-key" } })("50%off");
    expect(r.items).toEqual([{ jid: "marie@example.com", name: "Marie", subscription: "both", groups: ["Friends"] }]);
    const req = app.requests.at(-1)!;
    expect(req).toMatchObject({ method: "GET", url: "/contacts/50%25off" });
    expect(req.headers.accept).toBe("application/json");
    expect(req.headers.authorization).toBe("Bearer webapp-key");
  });

  it("gives the body's digest; the same body again with that digest is not parsed, another one is", async () => {
    const body = JSON.stringify({ "marie@example.com": { name: "Marie" } });
    app.handle(() => ({ headers: { "content-type": "application/json" }, body }));
    const get = fetcher();
    const first = await get("alice");
    expect(first.digest).toBe(createHash("sha256").update(body).digest("base64url"));
    expect(await get("alice", { unlessDigest: first.digest })).toEqual({ same: true, digest: first.digest, url: first.url, attempts: 1 });
    app.handle(() => ({ body: { "marie@example.com": { name: "Marie M." } } }));
    const next = await get("alice", { unlessDigest: first.digest });
    expect(next.same ? [] : next.items.map((i) => i.name)).toEqual(["Marie M."]);
  });

  it("a 302 to another origin gets the roster without the web app's headers", async () => {
    const elsewhere = await startHttpBackend(() => ({ body: { "marie@example.com": { name: "Marie" } } }));
    try {
      app.handle(() => ({ status: 302, headers: { location: `${elsewhere.url}/moved` } }));
      const r = await fetcher({ headers: { authorization: "Bearer webapp-key", "x-api-key": "k" } })("alice");
      expect(r.items.map((i) => i.jid)).toEqual(["marie@example.com"]);
      expect(app.requests.at(-1)!.headers.authorization).toBe("Bearer webapp-key");
      const there = elsewhere.requests.at(-1)!;
      expect([there.headers.authorization, there.headers["x-api-key"], there.headers.accept]).toEqual([undefined, undefined, "application/json"]);
    } finally {
      await elsewhere.close();
    }
  });

  it("a redirect loop is a failure that says so, not a hang", async () => {
    app.handle(() => ({ status: 302, headers: { location: "/again" } }));
    expect(await failure(fetcher()("loop"))).toMatchObject({ reason: "redirect", message: "refused more than 5 redirects" });
  });

  it("a non-200 is an error with the status and the first line of the body", async () => {
    app.handle(() => ({ status: 404, body: "no such user\nstack…" }));
    const err = await failure(fetcher()("ghost"));
    expect(err).toMatchObject({ reason: "http-status", status: 404, message: "HTTP 404: no such user" });
  });

  it("invalid JSON and a non-object body are errors, not hangs", async () => {
    app.handle(() => ({ body: "{not json" }));
    expect(await failure(fetcher()("a"))).toMatchObject({ reason: "invalid-json" });
    app.handle(() => ({ body: ["marie@example.com"] }));
    expect(await failure(fetcher()("a"))).toMatchObject({ reason: "invalid-roster", message: "expected a JSON object of contacts, got an array" });
  });

  it("times out, and a dropped connection or refused port is a network error", async () => {
    app.handle(() => ({ delayMs: 1000, body: {} }));
    expect(await failure(fetcher()("slow"))).toMatchObject({ reason: "timeout", message: "no answer within 300 ms" });
    app.handle(() => ({ hangUp: true }));
    expect(await failure(fetcher()("x"))).toMatchObject({ reason: "network" });
    const refused = createRosterFetcher({ url: `http://127.0.0.1:${await freePort()}/%s`, retries: 0 });
    expect(await failure(refused("x"))).toMatchObject({ reason: "network", message: "request failed: ECONNREFUSED" });
  });

  it("retries 5xx and timeouts with backoff, but not 4xx", async () => {
    let n = 0;
    app.handle(() => (++n < 3 ? { status: 503, body: "busy" } : { body: {} }));
    const r = await fetcher({ retries: 2 })("retry");
    expect(r.attempts).toBe(3);
    n = 0;
    app.handle(() => {
      n += 1;
      return { status: 403, body: "no" };
    });
    await failure(fetcher({ retries: 2 })("forbidden"));
    expect(n).toBe(1);
  });

  it("refuses a response over the size limit", async () => {
    app.handle(() => ({ body: { "a@b": { name: "x".repeat(2000) } } }));
    expect(await failure(fetcher({ maxBodyBytes: 1000 })("big"))).toMatchObject({ reason: "too-large" });
  });
});
