// A real HTTP server on a free loopback port, for code under test that calls out over HTTP (a web app's
// roster API, a webhook, a GeoIP service). Each request is recorded and answered by your handler.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";

export interface BackendRequest {
  method: string;
  /** The raw path and query, as sent (still percent-encoded). */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface BackendResponse {
  status?: number;
  /** A string is sent as is; anything else as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Wait this long before answering (timeouts). */
  delayMs?: number;
  /** Destroy the connection without answering (connection errors). */
  hangUp?: boolean;
}

export interface HttpBackend {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly requests: BackendRequest[];
  /** Replace the handler. */
  handle(handler: (req: BackendRequest) => BackendResponse | Promise<BackendResponse>): void;
  close(): Promise<void>;
}

export async function startHttpBackend(
  handler: (req: BackendRequest) => BackendResponse | Promise<BackendResponse> = () => ({ status: 404 }),
): Promise<HttpBackend> {
  let current = handler;
  const requests: BackendRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const record: BackendRequest = { method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      requests.push(record);
      try {
        const answer = await current(record);
        if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
        if (answer.hangUp) return void req.socket.destroy();
        const text = typeof answer.body === "string" ? answer.body : answer.body === undefined ? "" : JSON.stringify(answer.body);
        res.writeHead(answer.status ?? 200, {
          "content-type": typeof answer.body === "string" ? "text/plain; charset=utf-8" : "application/json",
          ...answer.headers,
        });
        res.end(text);
      } catch (err) {
        res.writeHead(500).end(String(err));
      }
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    handle(h) {
      current = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
