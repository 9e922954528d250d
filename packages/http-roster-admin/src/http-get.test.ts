import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpGet, TooLargeError } from "./http-get.js";

describe("createHttpGet over a real HTTP server", () => {
  let server: Server;
  let base: string;
  let connections = 0;
  let chunksSent = 0;
  const get = createHttpGet({ maxSockets: 4 });
  const opts = { headers: { accept: "application/json" }, timeout: 1000, maxBodyBytes: 1000 };

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === "/redirect") return void res.writeHead(302, { location: "/ok" }).end();
      if (req.url === "/slow") return void setTimeout(() => res.end("{}"), 3000);
      if (req.url === "/endless") {
        // chunked, no content-length: the reader must stop at the limit, not wait for the end
        res.writeHead(200, { "content-type": "application/json" });
        const timer = setInterval(() => {
          chunksSent++;
          if (!res.write("x".repeat(400))) clearInterval(timer);
        }, 5);
        res.on("close", () => clearInterval(timer));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ url: req.url, accept: req.headers.accept }));
    });
    server.keepAliveTimeout = 30_000;
    server.on("connection", () => connections++);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    get.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it("reuses one connection for requests one after another, and sends the headers", async () => {
    connections = 0;
    for (let i = 0; i < 5; i++) expect(JSON.parse((await get(`${base}/u${i}`, opts)).text)).toEqual({ url: `/u${i}`, accept: "application/json" });
    expect(connections).toBe(1);
  });

  it("follows a redirect", async () => {
    expect(await get(`${base}/redirect`, opts)).toMatchObject({ status: 200, text: expect.stringContaining('"/ok"') });
  });

  it("stops reading a body at the limit, and times out a silent server", async () => {
    chunksSent = 0;
    const err = await get(`${base}/endless`, opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TooLargeError);
    await new Promise((r) => setTimeout(r, 50));
    expect(chunksSent).toBeLessThan(10);
    const slow = await get(`${base}/slow`, { ...opts, timeout: 100 }).catch((e: Error) => e);
    expect(slow).toMatchObject({ name: "TimeoutError", message: "no answer within 100 ms" });
  });
});
