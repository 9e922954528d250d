// systemd's notify protocol (sd_notify(3)): READY=1, STATUS=…, STOPPING=1 and the WATCHDOG=1 pings, as
// datagrams of newline-separated KEY=VALUE lines to the unix datagram socket named by $NOTIFY_SOCKET.
//
// Node has no unix datagram sockets, so node-unix-socket (a prebuilt N-API addon) sends them. It is loaded
// only when $NOTIFY_SOCKET is set: a process not started by systemd (or by a unit without Type=notify) pays
// nothing. Its DgramSocket cannot be unref'd and keeps the event loop alive while it is open, so a socket is
// opened for a notification and closed as soon as the datagrams sent on it are out (sends are synchronous
// syscalls on a non-blocking socket): an idle notifier holds nothing open, and a gateway that stops without
// calling close() still exits.
//
// The pings come from a timer in this event loop: a process that is stopped (SIGSTOP), or whose loop hangs,
// stops pinging, and systemd kills it after WatchdogSec (SIGABRT, then SIGKILL); its sockets close with it.
import type { Logger } from "@xmppkit/core";

export interface ServiceNotifier {
  /** The service is up (READY=1), with a status line. */
  ready(status?: string): void;
  /** A STATUS= line (what systemctl status shows). */
  status(text: string): void;
  /** STOPPING=1: shutdown has begun (also stops the watchdog pings). */
  stopping(status?: string): void;
  /** The watchdog interval in ms when systemd asked for pings (WATCHDOG_USEC, for this pid), else undefined. */
  readonly watchdogMs: number | undefined;
  /** Stop pinging and close the socket. */
  close(): void;
}

export interface SystemdNotifierOptions {
  /** Where NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Told once, at warn, when notifications cannot be sent (the addon cannot load, a send fails). */
  logger?: Logger;
}

/** The part of node-unix-socket's DgramSocket used here. */
interface Dgram {
  on(event: "error", listener: (err: Error) => void): unknown;
  sendTo(buf: Buffer, offset: number, length: number, path: string, cb?: (err: Error | undefined) => void): void;
  close(): void;
}
type DgramClass = new () => Dgram;

/** The watchdog interval systemd asked this process for (sd_watchdog_enabled(3)), in ms; undefined when none. */
export function watchdogInterval(env: NodeJS.ProcessEnv, pid = process.pid): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isSafeInteger(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined; // meant for another process
  return usec / 1000;
}

/** $NOTIFY_SOCKET as a path for the socket: `@name` is in the abstract namespace (a leading NUL byte). */
const socketPath = (value: string): string => (value.startsWith("@") ? `\0${value.slice(1)}` : value);

/** A STATUS= value is one line. */
const oneLine = (text: string): string => text.replace(/[\r\n]+/g, " ");

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

async function loadDgram(): Promise<DgramClass> {
  const mod = (await import("node-unix-socket")) as unknown as { DgramSocket?: DgramClass; default?: { DgramSocket?: DgramClass } };
  const Dgram = mod.DgramSocket ?? mod.default?.DgramSocket;
  if (!Dgram) throw new Error("node-unix-socket has no DgramSocket");
  return Dgram;
}

const noopNotifier = (): ServiceNotifier => ({
  ready: () => undefined,
  status: () => undefined,
  stopping: () => undefined,
  watchdogMs: undefined,
  close: () => undefined,
});

/**
 * A notifier for $NOTIFY_SOCKET; a no-op (nothing loaded) when it is unset. Starts the WATCHDOG=1 pings (every
 * watchdogMs/2, from a timer in this event loop, unref'd) when $WATCHDOG_USEC is set and $WATCHDOG_PID is unset
 * or this pid. Never throws: when the addon cannot be loaded or a send fails, it logs one warning and goes on.
 */
export async function systemdNotifier(options: SystemdNotifierOptions = {}): Promise<ServiceNotifier> {
  const env = options.env ?? process.env;
  if (!env.NOTIFY_SOCKET) return noopNotifier();
  const target = env.NOTIFY_SOCKET;
  const watchdogMs = watchdogInterval(env);
  let warned = false;
  const warn = (what: string, err: unknown) => {
    if (warned) return;
    warned = true;
    const consequence = watchdogMs ? `; systemd will consider this process hung after ${watchdogMs} ms without a watchdog ping` : "";
    options.logger?.warn({ socket: target, err: errorText(err) }, `systemd notify: ${what}${consequence}`);
  };
  let Dgram: DgramClass | undefined;
  try {
    Dgram = await loadDgram();
  } catch (err) {
    warn("cannot load node-unix-socket, so no notification is sent", err);
  }
  const send = Dgram ? datagramSender(Dgram, socketPath(target), (err) => warn("a notification could not be sent", err)) : undefined;
  return notifier(send, watchdogMs);
}

/** The notifier's calls over `send` (undefined: nothing can be sent). */
function notifier(send: DatagramSender | undefined, watchdogMs: number | undefined): ServiceNotifier {
  let closed = false;
  let pings: NodeJS.Timeout | undefined;
  const notify = (lines: string[]) => {
    if (!closed) send?.send(lines.join("\n"));
  };
  const stopPings = () => {
    clearInterval(pings);
    pings = undefined;
  };
  if (watchdogMs && send) {
    pings = setInterval(() => notify(["WATCHDOG=1"]), Math.max(1, Math.floor(watchdogMs / 2)));
    pings.unref();
  }
  const withStatus = (first: string, status: string | undefined) => (status === undefined ? [first] : [first, `STATUS=${oneLine(status)}`]);
  return {
    watchdogMs,
    ready: (status) => notify(withStatus("READY=1", status)),
    status: (text) => notify([`STATUS=${oneLine(text)}`]),
    stopping: (status) => {
      stopPings();
      notify(withStatus("STOPPING=1", status));
    },
    close: () => {
      stopPings();
      closed = true;
      send?.close();
    },
  };
}

interface DatagramSender {
  send(payload: string): void;
  close(): void;
}

/**
 * Datagrams to `path`, each on a socket that is open only while sends on it are under way (a DgramSocket keeps
 * the event loop alive, and cannot be unref'd). `onError`: a send failed, or the socket did.
 */
function datagramSender(Dgram: DgramClass, path: string, onError: (err: unknown) => void): DatagramSender {
  let socket: Dgram | undefined;
  let pending = 0;
  const closeIfIdle = () => {
    if (pending > 0 || !socket) return;
    const s = socket;
    socket = undefined;
    s.close();
  };
  return {
    send(payload) {
      const buf = Buffer.from(payload);
      let done = false;
      const finish = (err: unknown) => {
        if (done) return;
        done = true;
        pending = Math.max(0, pending - 1);
        if (err) onError(err);
        closeIfIdle();
      };
      let counted = false;
      try {
        if (!socket) {
          const opened = new Dgram();
          opened.on("error", (err) => {
            onError(err);
            if (socket === opened) socket = undefined; // node-unix-socket closes a socket that failed
          });
          socket = opened;
        }
        pending++;
        counted = true;
        socket.sendTo(buf, 0, buf.length, path, finish);
      } catch (err) {
        if (counted) finish(err);
        else onError(err); // the socket could not be made
      }
    },
    close() {
      pending = 0;
      closeIfIdle();
    },
  };
}
