// GET over node:http(s) with keep-alive agents: one connection per concurrent request to the web app, reused
// across users. Node's fetch (undici, web streams, an AbortSignal per request) cost more CPU per roster than
// the roster itself; this also stops reading a body at the size limit instead of after the whole of it.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

export interface HttpGetOptions {
  headers: Record<string, string>;
  /** Per-request timeout in ms, from the request to the end of the body. */
  timeout: number;
  /** Stop reading and fail with `TooLargeError` past this many bytes. */
  maxBodyBytes: number;
}

export interface HttpGetResult {
  status: number;
  text: string;
}

/** The response body went over the limit (`length`: what was announced, or read so far). */
export class TooLargeError extends Error {
  override name = "TooLargeError";
  constructor(readonly length: number) {
    super(`response of ${length} bytes`);
  }
}

export class HttpTimeoutError extends Error {
  override name = "TimeoutError";
}

export type HttpGet = (url: string, options: HttpGetOptions) => Promise<HttpGetResult>;

const MAX_REDIRECTS = 5;

/** A GET function with its own keep-alive agents (`maxSockets` connections per host at most). */
export function createHttpGet({ maxSockets = 64 }: { maxSockets?: number } = {}): HttpGet & { destroy(): void } {
  const agents = {
    "http:": new HttpAgent({ keepAlive: true, maxSockets, scheduling: "lifo" }),
    "https:": new HttpsAgent({ keepAlive: true, maxSockets, scheduling: "lifo" }),
  };
  const get = (url: string, options: HttpGetOptions, redirects = 0): Promise<HttpGetResult> =>
    new Promise((resolve, reject) => {
      const target = new URL(url);
      const protocol = target.protocol as keyof typeof agents;
      if (!(protocol in agents)) return reject(new Error(`unsupported protocol ${target.protocol}`));
      const send = protocol === "https:" ? httpsRequest : httpRequest;
      const req = send(target, { method: "GET", headers: options.headers, agent: agents[protocol] }, (res) => {
        const location = res.headers.location;
        if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && location) {
          res.resume();
          if (redirects >= MAX_REDIRECTS) return reject(new Error("too many redirects"));
          return resolve(get(new URL(location, target).toString(), options, redirects + 1));
        }
        readBody(res, options.maxBodyBytes).then((text) => resolve({ status: res.statusCode ?? 0, text }), reject);
      });
      const timer = setTimeout(() => req.destroy(new HttpTimeoutError(`no answer within ${options.timeout} ms`)), options.timeout);
      req.on("error", reject);
      req.on("close", () => clearTimeout(timer));
      req.end();
    });
  const destroy = () => {
    for (const agent of Object.values(agents)) agent.destroy();
  };
  return Object.assign(get, { destroy });
}

function readBody(res: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const announced = Number(res.headers["content-length"] ?? 0);
    if (announced > max) {
      reject(new TooLargeError(announced));
      return void res.destroy();
    }
    const chunks: Buffer[] = [];
    let length = 0;
    res.on("data", (chunk: Buffer) => {
      length += chunk.length;
      if (length > max) {
        reject(new TooLargeError(length));
        res.destroy();
      } else chunks.push(chunk);
    });
    res.on("end", () => resolve(Buffer.concat(chunks, length).toString("utf8")));
    res.on("error", reject);
    res.on("aborted", () => reject(new Error("the connection closed mid-body")));
  });
}
