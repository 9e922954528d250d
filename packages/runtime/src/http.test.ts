import { request as httpRequest } from "node:http";
import { Agent } from "node:http";
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

  it("while starting, a path no route serves yet is 503 with Retry-After and the reason; afterwards 404", async () => {
    const s = createHttpServer({ token: "t0ken" });
    s.starting("the gateway is starting");
    const early = await s.inject({ method: "POST", url: "/reports", payload: "{}" });
    expect([early.statusCode, early.headers["retry-after"], early.json()]).toEqual([503, "5", { status: "error", message: "the gateway is starting" }]);
    s.route({ method: "POST", path: "/reports", auth: false, handler: () => ({ status: 202, body: {} }) });
    s.starting(undefined);
    expect((await s.inject({ method: "POST", url: "/reports", payload: "{}" })).statusCode).toBe(202);
    expect((await s.inject({ method: "GET", url: "/nothing" })).statusCode).toBe(404);
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

  it("HEAD is answered by the GET route, without a body", async () => {
    const url = await start();
    const r = await fetch(`${url}/echo/bob?x=2`, { method: "HEAD" });
    expect(r.status).toBe(201);
    expect(r.headers.get("content-length")).toBe("5"); // "bob 2"
    expect(await r.text()).toBe("");
  });

  it("malformed percent-encoding → 400; a handler error with a 4xx statusCode keeps it; an unsendable header → 500", async () => {
    const url = await start();
    server!.route({
      method: "GET",
      path: "/teapot",
      auth: false,
      handler: () => {
        throw Object.assign(new Error("short and stout"), { statusCode: 418 });
      },
    });
    server!.route({ method: "GET", path: "/newline", auth: false, handler: () => ({ headers: { "x-bad": "a\r\nset-cookie: x" }, body: "no" }) });
    const bad = await fetch(`${url}/echo/%E0%A4%A`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ status: "error", message: "malformed URL" });
    const teapot = await fetch(`${url}/teapot`);
    expect([teapot.status, await teapot.json()]).toEqual([418, { status: "error", message: "short and stout" }]);
    const newline = await fetch(`${url}/newline`);
    expect(newline.status).toBe(500);
    expect(newline.headers.get("set-cookie")).toBeNull();
  });

  it("a chunked body is cut off at the limit: 413, and the connection is closed", async () => {
    await start({ bodyLimit: 64 });
    const { status, body, connection } = await new Promise<{ status: number; body: string; connection: string | undefined }>((resolve, reject) => {
      const req = httpRequest(`${server!.url}/echo`, { method: "POST", headers: { "transfer-encoding": "chunked" } }, (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode!, body: text, connection: res.headers.connection }));
      });
      req.on("error", reject);
      for (let i = 0; i < 10; i++) req.write("x".repeat(32));
      req.end();
    });
    expect(status).toBe(413);
    expect(JSON.parse(body)).toEqual({ status: "error", message: "request body too large" });
    expect(connection).toBe("close");
  });

  it("close() ends idle keep-alive connections at once", async () => {
    const url = await start();
    const agent = new Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) =>
      httpRequest(`${url}/ip`, { agent }, (res) => {
        res.resume();
        res.on("end", resolve);
      })
        .on("error", reject)
        .end(),
    );
    const t0 = performance.now();
    await server!.close();
    server = undefined;
    expect(performance.now() - t0).toBeLessThan(1000);
    agent.destroy();
  });

  it("a refused request whose body was not read closes its connection (no unbounded draining)", async () => {
    await start({ token: "t", bodyLimit: 64 });
    const { status, connection } = await new Promise<{ status: number; connection: string | undefined }>((resolve) => {
      const req = httpRequest(`${server!.url}/echo`, { method: "POST", headers: { "transfer-encoding": "chunked" } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode!, connection: res.headers.connection });
        req.destroy();
      });
      req.on("error", () => undefined);
      req.write("x".repeat(32)); // and never ends it
    });
    expect([status, connection]).toEqual([401, "close"]);
  });

  it("close() ends a request that is still in progress after the grace period", async () => {
    server = createHttpServer({ listen: "127.0.0.1:0", closeGraceMs: 200 });
    let arrived!: () => void;
    const inHandler = new Promise<void>((r) => (arrived = r));
    server.route({
      method: "GET",
      path: "/stuck",
      auth: false,
      handler: () => {
        arrived();
        return new Promise(() => undefined);
      },
    });
    await server.start();
    const pending = fetch(`${server.url}/stuck`).then(
      () => "answered",
      () => "connection ended",
    );
    await inHandler;
    const t0 = performance.now();
    await server.close();
    server = undefined;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(150);
    expect(await pending).toBe("connection ended");
  });

  it("a handler's unsendable answer is the same 500 through inject() as over a socket", async () => {
    const url = await start();
    server!.route({ method: "GET", path: "/bad-header", auth: false, handler: () => ({ headers: { "x-a": "1\r\nx-b: 2" }, body: "no" }) });
    server!.route({ method: "GET", path: "/bad-status", auth: false, handler: () => ({ status: 1000 }) });
    for (const path of ["/bad-header", "/bad-status"]) {
      expect((await fetch(`${url}${path}`)).status).toBe(500);
      expect((await server!.inject({ url: path })).statusCode).toBe(500);
    }
  });

  it("inject() answers as the server does, without a socket", async () => {
    const events = new EventBus();
    const seen: unknown[] = [];
    events.on("http-request", (r) => seen.push(r.payload));
    await start({ token: "t", bodyLimit: 64, events });
    expect((await server!.inject({ method: "POST", url: "/echo", payload: [1] })).statusCode).toBe(401);
    const ok = await server!.inject({ method: "POST", url: "/echo", payload: { a: 1 }, headers: { Authorization: "Bearer t" } });
    expect([ok.statusCode, ok.json(), ok.headers["content-type"]]).toEqual([200, { got: { a: 1 } }, "application/json; charset=utf-8"]);
    expect((await server!.inject({ method: "POST", url: "/echo", payload: "x".repeat(65), headers: { authorization: "Bearer t" } })).statusCode).toBe(413);
    expect((await server!.inject({ url: "/echo/z%C3%A9?x=a&x=b", headers: { authorization: "Bearer t" } })).body).toBe("zé a,b");
    expect(seen).toHaveLength(4);
    expect(seen[3]).toMatchObject({ method: "GET", path: "/echo/z%C3%A9", status: 201, ip: "127.0.0.1" });
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
