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

/** What a connection's methods share: its socket, what the component sent so far and who watches it. */
interface ConnState {
  readonly socket: Socket;
  readonly domain: string;
  /** Everything the component sent so far. */
  received: string;
  /** The stream id sent in the header (set by `openStream`). */
  streamId: string | undefined;
  /** Called after every chunk the component sends. */
  readonly watchers: Set<() => void>;
  readonly closed: Promise<void>;
}

/** Start recording what the component sends on `socket`. */
function connectionState(socket: Socket, domain: string): ConnState {
  const watchers = new Set<() => void>();
  const state = { socket, domain, received: "", streamId: undefined as string | undefined, watchers };
  socket.on("data", (d) => {
    state.received += d.toString("utf8");
    for (const w of [...watchers]) w();
  });
  socket.on("error", () => undefined);
  // Like a real server: the component's </stream:stream> is answered with ours, and the connection closes.
  const closeWatch = () => {
    if (!state.received.includes("</stream:stream>")) return;
    watchers.delete(closeWatch);
    if (!socket.destroyed) socket.end("</stream:stream>");
  };
  watchers.add(closeWatch);
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return Object.assign(state, { closed });
}

/** Resolve with all received once it matches; reject after `timeoutMs` or when the connection closes first. */
function waitForReceived(state: ConnState, match: string | RegExp, timeoutMs: number): Promise<string> {
  const test = () => (typeof match === "string" ? state.received.includes(match) : match.test(state.received));
  if (test()) return Promise.resolve(state.received);
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(t);
      state.watchers.delete(check);
    };
    const check = () => {
      if (test()) {
        done();
        resolve(state.received);
      }
    };
    const t = setTimeout(() => {
      done();
      reject(new Error(`the component did not send ${String(match)} within ${timeoutMs} ms; got ${JSON.stringify(state.received.slice(-200))}`));
    }, timeoutMs);
    state.watchers.add(check);
    void state.closed.then(() => {
      if (!state.watchers.has(check)) return;
      done();
      reject(new Error(`the connection closed before ${String(match)}`));
    });
  });
}

function writeTo(socket: Socket, data: string | Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (socket.destroyed) return reject(new Error("the connection is closed"));
    socket.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

/** Wait for the component's stream header and answer with ours (a new stream id). */
async function openStreamOn(state: ConnState): Promise<void> {
  await waitForReceived(state, /<stream:stream[^>]*>/, 10_000);
  state.streamId = randomBytes(6).toString("hex");
  await writeTo(
    state.socket,
    `<?xml version='1.0'?><stream:stream xmlns='${NS_COMPONENT}' xmlns:stream='${NS_STREAM}' id='${state.streamId}' from='${state.domain}'>`,
  );
}

/** Wait for the handshake; a wrong digest (when there is a secret) gets `not-authorized` through `conn.streamError`. */
async function acceptHandshakeOn(state: ConnState, secret: string | undefined, conn: FaultConnection): Promise<void> {
  const text = await waitForReceived(state, /<handshake>([0-9a-f]*)<\/handshake>/, 10_000);
  const digest = /<handshake>([0-9a-f]*)<\/handshake>/.exec(text)![1];
  if (secret !== undefined && digest !== createHash("sha1").update(`${state.streamId}${secret}`).digest("hex")) {
    await conn.streamError("not-authorized");
    throw new Error("wrong secret");
  }
  await writeTo(state.socket, "<handshake/>");
}

/** Answer every IQ ping received so far and from now on. */
function answerPingsOn(state: ConnState): void {
  let answered = 0;
  const check = () => {
    const pings = [...state.received.matchAll(/<iq [^>]*?id=["']([^"']+)["'][^>]*><ping xmlns=["']urn:xmpp:ping["']\/><\/iq>/g)];
    for (const m of pings.slice(answered)) {
      const from = /to=["']([^"']+)["']/.exec(m[0])?.[1] ?? "localhost";
      void writeTo(state.socket, `<iq type='result' id='${m[1]}' from='${from}' to='${state.domain}'/>`).catch(() => undefined);
    }
    answered = pings.length;
  };
  state.watchers.add(check);
  check();
}

/** Send a stream error (and the stream's end), then close. */
async function streamErrorOn(socket: Socket, condition: string, text?: string): Promise<void> {
  const t = text ? `<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>${text}</text>` : "";
  await writeTo(socket, `<stream:error><${condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>${t}</stream:error></stream:stream>`).catch(() => undefined);
  socket.end();
}

function connection(socket: Socket, index: number, domain: string, secret: string | undefined): FaultConnection {
  const state = connectionState(socket, domain);
  const write = (data: string | Buffer) => writeTo(socket, data);
  const conn: FaultConnection = {
    index,
    socket,
    get received() {
      return state.received;
    },
    get streamId() {
      return state.streamId;
    },
    waitFor(match, timeoutMs = 10_000) {
      return waitForReceived(state, match, timeoutMs);
    },
    openStream: () => openStreamOn(state),
    acceptHandshake: () => acceptHandshakeOn(state, secret, conn),
    async online() {
      await conn.openStream();
      await conn.acceptHandshake();
    },
    answerPings: () => answerPingsOn(state),
    write,
    streamError: (condition, text) => streamErrorOn(socket, condition, text),
    end: () => socket.end(),
    destroy: () => socket.destroy(),
    closed: state.closed,
  };
  return conn;
}
