import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, EventBus } from "@xmppkit/core";
import { createHttpServer, isLoopback, parseListen, type RunningHttpServer } from "./http.js";

describe("HTTP server", () => {
  let server: RunningHttpServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(options: Parameters<typeof createHttpServer>[0] = {}) {
    server = createHttpServer({ listen: "127.0.0.1:0", ...options });
    server.route({ method: "POST", path: "/echo", handler: (req) => ({ body: { got: JSON.parse(req.body) as unknown } }) });
    server.route({ method: "GET", path: "/ip", auth: false, handler: (req) => ({ body: { ip: req.ip } }) });
    server.route({
      method: "GET",
      path: "/echo/:name",
      handler: (req) => ({ status: 201, headers: { "content-type": "text/plain; charset=utf-8" }, body: `${req.params.name} ${String(req.query.x)}` }),
    });
    server.route({
      method: "GET",
      path: "/boom",
      auth: false,
      handler: () => {
        throw new Error("secret detail");
      },
    });
    await server.start();
    return server.url!;
  }

  it("a route that needs the link: 503 at once with Retry-After and the reason while the link is down", async () => {
    const link = { online: false, downReason: "connect ECONNREFUSED 127.0.0.1:5347" };
    server = createHttpServer({ listen: "127.0.0.1:0" });
    server.route({ method: "POST", path: "/work", link, handler: () => ({ body: { done: true } }) });
    await server.start();
    const down = await fetch(`${server.url}/work`, { method: "POST" });
    expect(down.status).toBe(503);
    expect(down.headers.get("retry-after")).toBe("5");
    expect(await down.json()).toEqual({
      status: "error",
      message: "not connected to the XMPP server (connect ECONNREFUSED 127.0.0.1:5347); try again later",
      reason: "connect ECONNREFUSED 127.0.0.1:5347",
    });
    link.online = true;
    expect(await (await fetch(`${server.url}/work`, { method: "POST" })).json()).toEqual({ done: true });
  });

  it("parses listen addresses", () => {
    expect(parseListen("127.0.0.1:5281")).toEqual({ host: "127.0.0.1", port: 5281 });
    expect(parseListen("[::1]:80")).toEqual({ host: "::1", port: 80 });
    expect(() => parseListen("5281")).toThrow(ConfigError);
    expect(isLoopback("127.0.0.2")).toBe(true);
    expect(isLoopback("0.0.0.0")).toBe(false);
  });

  it("refuses to listen beyond loopback without a token", () => {
    expect(() => createHttpServer({ listen: "0.0.0.0:5281" })).toThrow(/http.token is required/);
    expect(() => createHttpServer({ listen: "0.0.0.0:5281", token: "t" })).not.toThrow();
  });

  it("bearer token: 401 without or with a wrong one, 200 with the right one", async () => {
    const url = await start({ token: "s3cret" });
    const post = (headers: Record<string, string>) =>
      fetch(`${url}/echo`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: "[1]" });
    const missing = await post({});
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(await missing.json()).toEqual({ status: "error", message: "missing bearer token" });
    expect((await post({ authorization: "Bearer nope" })).status).toBe(401);
    const ok = await post({ authorization: "Bearer s3cret" });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ got: [1] });
  });

  it("routes get params, query and any body as text; a string answer is sent as it is", async () => {
    const url = await start();
    const r = await fetch(`${url}/echo/alice?x=1`);
    expect(r.status).toBe(201);
    expect(r.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await r.text()).toBe("alice 1");
    const form = await fetch(`${url}/echo`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "[2]" });
    expect(await form.json()).toEqual({ got: [2] });
  });

  it("too large → 413 as JSON; unknown path → 404", async () => {
    const url = await start({ bodyLimit: 64 });
    expect((await fetch(`${url}/nowhere`)).status).toBe(404);
    const big = await fetch(`${url}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify("x".repeat(200)) });
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({ status: "error", message: "request body too large" });
  });

  it("a handler crash is a 500 without internals", async () => {
    const url = await start();
    const r = await fetch(`${url}/boom`);
    expect(r.status).toBe(500);
    expect(await r.json()).toEqual({ status: "error", message: "internal error" });
  });

  it("ignores X-Forwarded-For unless the peer is a trusted proxy", async () => {
    let url = await start();
    const spoof = await fetch(`${url}/ip`, { headers: { "x-forwarded-for": "81.2.69.142" } });
    expect(((await spoof.json()) as { ip: string }).ip).toBe("127.0.0.1");
    await server!.close();
    url = await start({ trustedProxies: ["127.0.0.1"] });
    const proxied = await fetch(`${url}/ip`, { headers: { "x-forwarded-for": "81.2.69.142" } });
    expect(((await proxied.json()) as { ip: string }).ip).toBe("81.2.69.142");
  });

  it("reports each request on the event bus with the caller's IP", async () => {
    const events = new EventBus();
    const seen: unknown[] = [];
    events.on("http-request", (r) => seen.push(r.payload));
    const url = await start({ events });
    await fetch(`${url}/ip?x=1`);
    expect(seen).toEqual([expect.objectContaining({ method: "GET", path: "/ip", status: 200, ip: "127.0.0.1" })]);
  });
});
