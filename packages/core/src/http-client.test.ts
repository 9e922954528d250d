import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createHttpClient, HttpClientError, nextHop, redirectHeaders, type HttpClient } from "./http-client.js";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A real HTTP server on a free loopback port whose answers the test sets, recording the headers it got. */
async function origin(): Promise<{ url: string; seen: IncomingHttpHeaders[]; handle(h: Handler): void; server: Server }> {
  let handler: Handler = (_req, res) => res.end("ok");
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, server, handle: (h) => (handler = h) };
}

const redirect =
  (to: string, status = 302): Handler =>
  (_req, res) =>
    res.writeHead(status, { location: to }).end();

describe("createHttpClient", () => {
  let a: Awaited<ReturnType<typeof origin>>;
  let b: Awaited<ReturnType<typeof origin>>;
  let client: HttpClient;
  const secret = { authorization: "Bearer s3cret", "x-api-key": "k", accept: "application/json" };
  const get = (url: string, extra: Partial<Parameters<HttpClient["request"]>[1]> = {}) =>
    client.request(url, { headers: secret, timeout: 5_000, maxBodyBytes: 1024, ...extra });

  beforeAll(async () => {
    a = await origin();
    b = await origin();
    client = createHttpClient();
  });
  afterEach(() => {
    a.seen.length = 0;
    b.seen.length = 0;
  });
  afterAll(async () => {
    client.destroy();
    for (const s of [a, b]) await new Promise((r) => s.server.close(r));
  });

  it("a 302 to another origin never carries the caller's credentials or custom headers", async () => {
    a.handle(redirect(`${b.url}/elsewhere`));
    b.handle((_req, res) => res.end("from b"));
    const res = await get(`${a.url}/roster/alice`);
    expect(res).toMatchObject({ status: 200, text: "from b", url: `${b.url}/elsewhere` });
    expect(a.seen[0]).toMatchObject({ authorization: "Bearer s3cret", "x-api-key": "k" });
    expect(b.seen).toHaveLength(1);
    expect(b.seen[0]!.authorization).toBeUndefined();
    expect(b.seen[0]!["x-api-key"]).toBeUndefined();
    expect(b.seen[0]!.accept).toBe("application/json");
  });

  it("a redirect on the same origin keeps the headers", async () => {
    a.handle((req, res) => (req.url === "/old" ? redirect("/new", 301)(req, res) : res.end("new")));
    const res = await get(`${a.url}/old`);
    expect(res.text).toBe("new");
    expect(a.seen.map((h) => h.authorization)).toEqual(["Bearer s3cret", "Bearer s3cret"]);
  });

  it("follows a bounded number of redirects", async () => {
    a.handle(redirect("/again"));
    const err = await get(`${a.url}/loop`, { maxRedirects: 3 }).catch((e: unknown) => e);
    expect(HttpClientError.isInstance(err) && err.reason).toBe("redirect");
    expect((err as Error).message).toMatch(/more than 3 redirects/);
    expect(a.seen).toHaveLength(4);
  });

  it("does not follow a redirect for anything but GET: the 3xx is the answer", async () => {
    a.handle(redirect(`${b.url}/api`, 307));
    const res = await client.request(`${a.url}/api`, { method: "POST", body: "{}", headers: secret, timeout: 5_000, maxBodyBytes: 1024 });
    expect(res.status).toBe(307);
    expect(b.seen).toHaveLength(0);
  });

  it("stops reading a body past the cap, announced or streamed", async () => {
    a.handle((_req, res) => res.end("x".repeat(2048)));
    const announced = await get(a.url).catch((e: unknown) => e);
    expect(HttpClientError.isInstance(announced) && announced.reason).toBe("too-large");
    a.handle((_req, res) => {
      res.write("x".repeat(1000));
      res.end("y".repeat(1000));
    });
    const streamed = await get(a.url).catch((e: unknown) => e);
    expect(HttpClientError.isInstance(streamed) && [streamed.reason, streamed.message]).toEqual(["too-large", expect.any(String)]);
  });

  it("one deadline for the whole exchange: a redirect to a silent server times out", async () => {
    const held: ServerResponse[] = [];
    a.handle((req, res) => (req.url === "/slow" ? held.push(res) : redirect("/slow")(req, res)));
    const err = await get(`${a.url}/start`, { timeout: 200 }).catch((e: unknown) => e);
    expect(HttpClientError.isInstance(err) && err.reason).toBe("timeout");
    for (const res of held) res.destroy();
  });

  it("keeps one connection alive for requests one after another", async () => {
    let connections = 0;
    const counted = () => connections++;
    a.server.on("connection", counted);
    a.handle((req, res) => res.end(req.url));
    const fresh = createHttpClient({ maxSockets: 4 });
    for (let i = 0; i < 5; i++) expect((await fresh.request(`${a.url}/u${i}`, { timeout: 5_000, maxBodyBytes: 100 })).text).toBe(`/u${i}`);
    fresh.destroy();
    a.server.off("connection", counted);
    expect(connections).toBe(1);
  });

  it("a refused connection is a network failure", async () => {
    const closed = await origin();
    await new Promise((r) => closed.server.close(r));
    const err = await get(closed.url).catch((e: unknown) => e);
    expect(HttpClientError.isInstance(err) && err.reason).toBe("network");
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
  });
});

describe("nextHop and redirectHeaders", () => {
  const answer = (status: number, location?: string) => ({ statusCode: status, headers: location ? { location } : {} }) as IncomingMessage;

  it("never goes from https to http, nor to another scheme", () => {
    expect(nextHop(new URL("https://app.example/r"), answer(302, "http://app.example/r"), 0, 5)).toMatch(/from https to http/);
    expect(nextHop(new URL("https://app.example/r"), answer(302, "file:///etc/passwd"), 0, 5)).toMatch(/file:/);
    expect(nextHop(new URL("http://app.example/r"), answer(302, "https://app.example/r"), 0, 5)?.toString()).toBe("https://app.example/r");
  });

  it("a 200, a 3xx without Location or with redirects off is the answer", () => {
    expect(nextHop(new URL("http://a/"), answer(200, "/x"), 0, 5)).toBeUndefined();
    expect(nextHop(new URL("http://a/"), answer(304), 0, 5)).toBeUndefined();
    expect(nextHop(new URL("http://a/"), answer(302, "/x"), 0, 0)).toBeUndefined();
  });

  it("keeps only harmless headers for another origin (a port is another origin)", () => {
    const headers = { Authorization: "Basic x", Cookie: "c", "X-Token": "t", Accept: "application/json" };
    expect(redirectHeaders(headers, new URL("http://a:1/"), new URL("http://a:1/y"))).toBe(headers);
    expect(redirectHeaders(headers, new URL("http://a:1/"), new URL("http://a:2/"))).toEqual({ Accept: "application/json" });
    expect(redirectHeaders(headers, new URL("http://b/"), new URL("http://a/"))).toEqual({ Accept: "application/json" });
  });

  it("keeps them for the same host's upgrade to https (same or default port), not for another host's", () => {
    const headers = { Authorization: "Bearer x" };
    expect(redirectHeaders(headers, new URL("http://app.example/r"), new URL("https://app.example/r"))).toBe(headers);
    expect(redirectHeaders(headers, new URL("http://app.example:8080/r"), new URL("https://app.example:8080/r"))).toBe(headers);
    expect(redirectHeaders(headers, new URL("http://app.example/r"), new URL("https://evil.example/r"))).toEqual({});
    expect(redirectHeaders(headers, new URL("http://app.example:8080/r"), new URL("https://app.example:9443/r"))).toEqual({});
  });
});
