// A fault-injecting XEP-0114 server: it speaks just enough of the component protocol (stream header,
// handshake, a reply to pings) to bring a component online, and then does what a test tells it to —
// garbage, a stream error, a close mid-stanza, a giant stanza, silence, a wrong handshake reply. For the
// stream-level faults no real server produces on demand; everything else is tested against real Prosody.
// https://xmpp.org/extensions/xep-0114.html
import { createHash, randomBytes } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";

const NS_COMPONENT = "jabber:component:accept";
const NS_STREAM = "http://etherx.jabber.org/streams";

/** One accepted TCP connection, seen from the server side. */
export interface FaultConnection {
  /** 1 for the first connection, 2 for the next… */
  readonly index: number;
  readonly socket: Socket;
  /** Everything the component sent so far. */
  readonly received: string;
  /** The stream id sent in the header (set by `openStream`). */
  readonly streamId: string | undefined;
  /** Resolve when what the component sent matches (a substring or a pattern); reject after `timeoutMs`. */
  waitFor(match: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Wait for the component's stream header and answer with ours. */
  openStream(): Promise<void>;
  /** Wait for the handshake and accept it (checks the secret when the server has one). */
  acceptHandshake(): Promise<void>;
  /** openStream + acceptHandshake: the component is online after this. */
  online(): Promise<void>;
  /** Answer every IQ ping the component sends (its keepalive) from now on. */
  answerPings(): void;
  /** Write raw bytes. */
  write(data: string | Buffer): Promise<void>;
  /** Send `<stream:error><condition/></stream:error></stream:stream>` and close. */
  streamError(condition: string, text?: string): Promise<void>;
  /** Close the TCP connection (FIN), or reset it (`destroy`). */
  end(): void;
  destroy(): void;
  /** Resolves when the socket is closed. */
  readonly closed: Promise<void>;
}

export type FaultScript = (conn: FaultConnection) => void | Promise<void>;

export interface FaultServerOptions {
  /** The component domain expected in the stream header (default "gateway.localhost"). */
  domain?: string;
  /** When set, a handshake with another secret gets `not-authorized`. */
  secret?: string;
  /** What each new connection gets (default: `scripts.online`); change it later with `setScript()`. */
  script?: FaultScript;
}

export interface FaultServer {
  /** `xmpp://127.0.0.1:<port>`, for `component.service`. */
  readonly service: string;
  readonly port: number;
  readonly domain: string;
  readonly secret: string | undefined;
  /** Connections accepted so far. */
  readonly connections: FaultConnection[];
  /** The script for connections accepted from now on. */
  setScript(script: FaultScript): void;
  /** Resolve with the next connection (or the n-th overall, when given and already there). */
  nextConnection(timeoutMs?: number): Promise<FaultConnection>;
  /** How many connections are open right now. */
  readonly open: number;
  close(): Promise<void>;
}

/** Ready-made behaviours. Compose your own from FaultConnection's methods. */
export const scripts = {
  /** A well-behaved server: header, handshake, pings answered. */
  online: (async (c) => {
    await c.online();
    c.answerPings();
  }) as FaultScript,
  /** Accept TCP and never say anything. */
  silence: (() => undefined) as FaultScript,
  /** Answer like an HTTP server (nginx's real 400 page: text before any element, then mismatched tags). */
  http: (async (c) => {
    await c.waitFor("<stream:stream");
    const page =
      "<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
    await c.write(`HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: ${page.length}\r\nConnection: close\r\n\r\n${page}`);
    c.end();
  }) as FaultScript,
  /** Answer like Node's HTTP server: a status line and headers, no body, then close. */
  httpNoBody: (async (c) => {
    await c.waitFor("<stream:stream");
    await c.write("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    c.end();
  }) as FaultScript,
  /** Send the stream header, then answer the handshake with something else than <handshake/>. */
  wrongHandshakeReply: (async (c) => {
    await c.openStream();
    await c.waitFor("</handshake>");
    await c.write("<message from='localhost' to='gateway.localhost'><body>not a handshake</body></message>");
  }) as FaultScript,
  /** Come online, then send bytes that are not XML (two parser errors in one chunk). */
  garbageAfterOnline: (async (c) => {
    await c.online();
    await c.write("</unopened><<<>>> &bogus; </also-unopened>");
  }) as FaultScript,
  /** Come online, then start a stanza and cut the connection in its middle. */
  closeMidStanza: (async (c) => {
    await c.online();
    await c.write("<message from='alice@localhost/x' to='gateway.localhost'><body>half a sta");
    c.destroy();
  }) as FaultScript,
};

export async function startFaultServer(options: FaultServerOptions = {}): Promise<FaultServer> {
  const domain = options.domain ?? "gateway.localhost";
  let script: FaultScript = options.script ?? scripts.online;
  const connections: FaultConnection[] = [];
  const sockets = new Set<Socket>();
  const waiting: ((c: FaultConnection) => void)[] = [];

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const conn = connection(socket, connections.length + 1, domain, options.secret);
    void conn.closed.then(() => sockets.delete(socket));
    connections.push(conn);
    for (const w of waiting.splice(0)) w(conn);
    Promise.resolve()
      .then(() => script(conn))
      .catch(() => socket.destroy()); // a script that fails (the component went away) just ends its connection
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;

  return {
    service: `xmpp://127.0.0.1:${port}`,
    port,
    domain,
    secret: options.secret,
    connections,
    setScript(s) {
      script = s;
    },
    nextConnection(timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no new connection within ${timeoutMs} ms`)), timeoutMs);
        waiting.push((c) => {
          clearTimeout(t);
          resolve(c);
        });
      });
    },
    get open() {
      return sockets.size;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function connection(socket: Socket, index: number, domain: string, secret: string | undefined): FaultConnection {
  let received = "";
  let streamId: string | undefined;
  const watchers = new Set<() => void>();
  socket.on("data", (d) => {
    received += d.toString("utf8");
    for (const w of [...watchers]) w();
  });
  socket.on("error", () => undefined);
  // Like a real server: the component's </stream:stream> is answered with ours, and the connection closes.
  const closeWatch = () => {
    if (!received.includes("</stream:stream>")) return;
    watchers.delete(closeWatch);
    if (!socket.destroyed) socket.end("</stream:stream>");
  };
  watchers.add(closeWatch);
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));

  function waitFor(match: string | RegExp, timeoutMs = 10_000): Promise<string> {
    const test = () => (typeof match === "string" ? received.includes(match) : match.test(received));
    if (test()) return Promise.resolve(received);
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(t);
        watchers.delete(check);
      };
      const check = () => {
        if (test()) {
          done();
          resolve(received);
        }
      };
      const t = setTimeout(() => {
        done();
        reject(new Error(`the component did not send ${String(match)} within ${timeoutMs} ms; got ${JSON.stringify(received.slice(-200))}`));
      }, timeoutMs);
      watchers.add(check);
      void closed.then(() => {
        if (!watchers.has(check)) return;
        done();
        reject(new Error(`the connection closed before ${String(match)}`));
      });
    });
  }

  const write = (data: string | Buffer) =>
    new Promise<void>((resolve, reject) => {
      if (socket.destroyed) return reject(new Error("the connection is closed"));
      socket.write(data, (err) => (err ? reject(err) : resolve()));
    });

  const conn: FaultConnection = {
    index,
    socket,
    get received() {
      return received;
    },
    get streamId() {
      return streamId;
    },
    waitFor,
    async openStream() {
      await waitFor(/<stream:stream[^>]*>/);
      streamId = randomBytes(6).toString("hex");
      await write(`<?xml version='1.0'?><stream:stream xmlns='${NS_COMPONENT}' xmlns:stream='${NS_STREAM}' id='${streamId}' from='${domain}'>`);
    },
    async acceptHandshake() {
      const text = await waitFor(/<handshake>([0-9a-f]*)<\/handshake>/);
      const digest = /<handshake>([0-9a-f]*)<\/handshake>/.exec(text)![1];
      if (secret !== undefined && digest !== createHash("sha1").update(`${streamId}${secret}`).digest("hex")) {
        await conn.streamError("not-authorized");
        throw new Error("wrong secret");
      }
      await write("<handshake/>");
    },
    async online() {
      await conn.openStream();
      await conn.acceptHandshake();
    },
    answerPings() {
      let answered = 0;
      const check = () => {
        const pings = [...received.matchAll(/<iq [^>]*?id=["']([^"']+)["'][^>]*><ping xmlns=["']urn:xmpp:ping["']\/><\/iq>/g)];
        for (const m of pings.slice(answered)) {
          const from = /to=["']([^"']+)["']/.exec(m[0])?.[1] ?? "localhost";
          void write(`<iq type='result' id='${m[1]}' from='${from}' to='${domain}'/>`).catch(() => undefined);
        }
        answered = pings.length;
      };
      watchers.add(check);
      check();
    },
    write,
    async streamError(condition, text) {
      const t = text ? `<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>${text}</text>` : "";
      await write(`<stream:error><${condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>${t}</stream:error></stream:stream>`).catch(() => undefined);
      socket.end();
    },
    end: () => socket.end(),
    destroy: () => socket.destroy(),
    closed,
  };
  return conn;
}
