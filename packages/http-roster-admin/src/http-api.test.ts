import { silentLogger } from "@xmppkit/core";
import { createHttpServer, type RunningHttpServer } from "@xmppkit/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { parseRefreshBody, registerRosterAdminRoutes } from "./http-api.js";
import type { RefreshResult, RosterAdmin } from "./roster-admin.js";

const TOKEN = "0123456789abcdef-token";

/** A roster admin that records the users it was asked for; "broken" users fail, "crash" throws. */
function stubAdmin() {
  const calls: string[][] = [];
  const admin = {
    async refresh(users: string[]): Promise<RefreshResult> {
      calls.push(users);
      if (users.includes("crash")) throw new Error("database on fire");
      const unique = [...new Set(users)];
      const errors = unique.filter((u) => u === "broken").length;
      const status = unique.length && errors === unique.length ? "error" : "ok";
      return { status, message: status === "ok" ? "roster update complete" : "roster update failed", updated: unique.length - errors, errors };
    },
  } as unknown as RosterAdmin;
  return { admin, calls };
}

describe("the roster_admin HTTP API", () => {
  let http: RunningHttpServer;
  afterEach(() => http.close());

  function setup(opts: { token?: string; bodyLimit?: number; maxUsers?: number; link?: { online: boolean; downReason?: string } } = { token: TOKEN }) {
    http = createHttpServer({
      listen: "127.0.0.1:0",
      logger: silentLogger(),
      ...(opts.token ? { token: opts.token } : {}),
      bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    });
    const stub = stubAdmin();
    const requests: { ip: string; users: string[] }[] = [];
    registerRosterAdminRoutes(http, stub.admin, {
      maxUsers: opts.maxUsers ?? 10_000,
      onRequest: (r) => void requests.push(r),
      ...(opts.link ? { link: opts.link } : {}),
    });
    return { ...stub, requests };
  }

  const post = (payload: string, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }) =>
    http.inject({ method: "POST", url: "/roster_admin/refresh", payload, headers });

  it("POST refresh → 200 with Prosody's JSON after processing; the caller's IP is reported", async () => {
    const { calls, requests } = setup();
    const res = await post('["john","aaron"]');
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.json()).toEqual({ status: "ok", message: "roster update complete", updated: 2, errors: 0 });
    expect(calls).toEqual([["john", "aaron"]]);
    expect(requests).toEqual([{ ip: "127.0.0.1", method: "POST", path: "/roster_admin/refresh", users: ["john", "aaron"] }]);
  });

  it("while the XMPP link is down: 503 at once with Retry-After and the reason, after the token check", async () => {
    const link = { online: false, downReason: "the server closed the stream" };
    const { calls } = setup({ token: TOKEN, link });
    const res = await post('["john"]');
    expect(res.statusCode).toBe(503);
    expect(res.headers["retry-after"]).toBe("5");
    expect(res.json()).toMatchObject({ status: "error", reason: "the server closed the stream" });
    expect((await post('["john"]', {})).statusCode).toBe(401);
    expect(calls).toEqual([]);
    link.online = true;
    expect((await post('["john"]')).statusCode).toBe(200);
  });

  it("[] is an immediate ok with 0/0; status is error only when every user failed", async () => {
    setup();
    expect((await post("[]")).json()).toEqual({ status: "ok", message: "roster update complete", updated: 0, errors: 0 });
    expect((await post('["broken","john"]')).json()).toMatchObject({ status: "ok", updated: 1, errors: 1 });
    expect((await post('["broken"]')).json()).toMatchObject({ status: "error", updated: 0, errors: 1 });
  });

  it("takes any content type (curl -d sends a form type), and normalises usernames", async () => {
    const { calls } = setup();
    const res = await post('["John"]', { authorization: `Bearer ${TOKEN}`, "content-type": "application/x-www-form-urlencoded" });
    expect(res.statusCode).toBe(200);
    expect(calls).toEqual([["john"]]);
  });

  it.each([
    ["an empty body", "", "the body is empty"],
    ["invalid JSON", "[john", "the body is not valid JSON"],
    ["null", "null", "got null"],
    ["false", "false", "got a boolean"],
    ["an object", '{"users":["john"]}', "got an object"],
    ["a string", '"john"', "got a string"],
    ["a number in the array", '["john", 3]', "[1]: username is not a string"],
    ["an invalid username", '["john", "a b"]', '[1]: username "a b" is not a valid username'],
    ["an empty username", '[""]', "[0]: username is empty"],
  ])("400 with a JSON error for %s", async (_what, body, message) => {
    const { calls } = setup();
    const res = await post(body);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ status: "error", message: expect.stringContaining(message) });
    expect(calls).toEqual([]);
  });

  it("413 over the body limit or the username count limit", async () => {
    setup({ token: TOKEN, bodyLimit: 100, maxUsers: 3 });
    const big = await post(JSON.stringify(Array.from({ length: 30 }, (_, i) => `user${i}`)));
    expect(big.statusCode).toBe(413);
    expect(big.json()).toEqual({ status: "error", message: "request body too large" });
    const many = await post('["a","b","c","d"]');
    expect(many.statusCode).toBe(413);
    expect(many.json()).toEqual({ status: "error", message: "too many usernames: 4 (at most 3 per request)" });
  });

  it("401 without the bearer token or with a wrong one; nothing is processed", async () => {
    const { calls } = setup();
    const missing = await post('["john"]', { "content-type": "application/json" });
    expect(missing.statusCode).toBe(401);
    expect(missing.headers["www-authenticate"]).toBe('Bearer realm="xmppkit"');
    const wrong = await post('["john"]', { authorization: "Bearer nope", "content-type": "application/json" });
    expect(wrong.statusCode).toBe(401);
    const get = await http.inject({ method: "GET", url: "/roster_admin/refresh/john" });
    expect(get.statusCode).toBe(401);
    expect(calls).toEqual([]);
  });

  it("GET refresh/{username} answers for one user; the name is URL-decoded", async () => {
    const { calls } = setup();
    const auth = { authorization: `Bearer ${TOKEN}` };
    const res = await http.inject({ method: "GET", url: "/roster_admin/refresh/zo%C3%AB", headers: auth });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: "ok", message: "roster update complete", updated: 1, errors: 0 });
    expect(calls).toEqual([["zoë"]]);
    const bad = await http.inject({ method: "GET", url: "/roster_admin/refresh/a%40b", headers: auth });
    expect(bad.statusCode).toBe(400);
  });

  it("500 only for a real internal failure, without leaking the error", async () => {
    setup();
    const res = await post('["crash"]');
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ status: "error", message: "internal error" });
  });

  it("parseRefreshBody: the validation on its own", () => {
    expect(parseRefreshBody('["a","B"]', 10)).toEqual(["a", "b"]);
    expect(() => parseRefreshBody('["ok","bell\\u0007"]', 10)).toThrow("[1]: username holds U+0007, which XML forbids");
    expect(() => parseRefreshBody(undefined, 10)).toThrow(/empty/);
  });
});
