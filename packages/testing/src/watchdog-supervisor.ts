// A test supervisor that speaks systemd's notify protocol (sd_notify(3)) with a watchdog, as a unit with
// Type=notify and WatchdogSec= does: the child gets $NOTIFY_SOCKET (a unix datagram socket bound here, in a
// temp dir) and $WATCHDOG_USEC; READY=1 arms the watchdog, each WATCHDOG=1 re-arms it, STOPPING=1 disarms
// it (systemd runs it only while the service is up); when no ping came for `watchdogMs`, the child is sent
// SIGABRT, then SIGKILL after `abortTimeoutMs` (systemd's TimeoutAbortSec): a stopped (SIGSTOP) process keeps
// SIGABRT pending, so SIGKILL is what ends it. Unlike systemd (NotifyAccess=main), it does not check which
// process sent a datagram: node-unix-socket does not pass the sender's credentials.
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface WatchdogSupervisorOptions {
  command: string;
  args?: string[];
  /** The child's environment (default process.env); NOTIFY_SOCKET and WATCHDOG_USEC are set, WATCHDOG_PID removed. */
  env?: NodeJS.ProcessEnv;
  /** WatchdogSec=, in ms. */
  watchdogMs: number;
  /** TimeoutAbortSec=, in ms: from SIGABRT to SIGKILL (default 1000). */
  abortTimeoutMs?: number;
  /** Default ["ignore", "pipe", "pipe"]. */
  stdio?: StdioOptions;
  cwd?: string;
}

/** What the watchdog did: the child's end after it fired. */
export interface Fenced {
  /** Date.now() when the child had exited. */
  at: number;
  /** Date.now() when the watchdog fired (SIGABRT sent). */
  firedAt: number;
  /** The signal the child died of (SIGABRT, or SIGKILL when it did not die of SIGABRT in time). */
  signal: NodeJS.Signals | null;
}

export interface WatchdogSupervisor {
  readonly child: ChildProcess;
  /** Every notification datagram received, as sent ("READY=1\nSTATUS=…", "WATCHDOG=1", …). */
  readonly notifications: string[];
  /** How many WATCHDOG=1 were received. */
  readonly pings: number;
  /** Resolves on the first READY=1. */
  readonly ready: Promise<void>;
  /** Resolves once the watchdog fired and the child is dead; never when it was not fenced. */
  readonly fenced: Promise<Fenced>;
  /** Set when `fenced` has resolved. */
  readonly fencedWith: Fenced | undefined;
  /** Resolves when the child has exited (and the notifications sent before that are in `notifications`). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Disarm the watchdog, send `signal` (default SIGKILL) to a child that still runs, and wait until it has exited. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** node-unix-socket's DgramSocket, the part used here. */
interface Dgram {
  bind(path: string): void;
  on(event: "data", listener: (buf: Buffer) => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
  close(): void;
}

async function dgramSocket(): Promise<Dgram> {
  const mod = (await import("node-unix-socket")) as unknown as { DgramSocket?: new () => Dgram; default?: { DgramSocket?: new () => Dgram } };
  const Dgram = mod.DgramSocket ?? mod.default?.DgramSocket;
  if (!Dgram) throw new Error("node-unix-socket has no DgramSocket");
  return new Dgram();
}

/** The watchdog's timer: armed by READY=1, re-armed by each ping, disarmed by STOPPING=1 and the child's exit. */
function watchdogTimer(watchdogMs: number, onExpired: () => void) {
  let timer: NodeJS.Timeout | undefined;
  let off = false;
  return {
    /** (Re)start the countdown; a no-op once disarmed. */
    arm() {
      if (off) return;
      clearTimeout(timer);
      timer = setTimeout(onExpired, watchdogMs);
    },
    get armed() {
      return timer !== undefined;
    },
    disarm() {
      off = true;
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

/** SIGABRT now, SIGKILL after `abortTimeoutMs` unless `cancel()` (the child exited) came first. */
function fence(child: ChildProcess, abortTimeoutMs: number) {
  let killTimer: NodeJS.Timeout | undefined;
  let firedAt: number | undefined;
  return {
    fire() {
      if (firedAt !== undefined) return;
      firedAt = Date.now();
      child.kill("SIGABRT");
      killTimer = setTimeout(() => child.kill("SIGKILL"), abortTimeoutMs);
    },
    get firedAt() {
      return firedAt;
    },
    cancel() {
      clearTimeout(killTimer);
    },
  };
}

/** Reads the notifications: what each datagram means for the watchdog. */
function notificationHandler(watchdog: ReturnType<typeof watchdogTimer>, fire: () => void, onReady: () => void) {
  const notifications: string[] = [];
  let pings = 0;
  return {
    notifications,
    get pings() {
      return pings;
    },
    receive(text: string) {
      notifications.push(text);
      const lines = text.split("\n");
      if (lines.includes("READY=1")) {
        if (!watchdog.armed) watchdog.arm();
        onReady();
      }
      if (lines.includes("WATCHDOG=1")) {
        pings++;
        if (watchdog.armed) watchdog.arm(); // before READY=1, systemd's watchdog is not running yet
      }
      if (lines.includes("WATCHDOG=trigger")) {
        watchdog.disarm();
        fire();
      }
      if (lines.includes("STOPPING=1")) watchdog.disarm();
    },
  };
}

/** Spawn `command` under a notify socket and a watchdog, as systemd runs a Type=notify unit with WatchdogSec=. */
export async function superviseWithWatchdog(options: WatchdogSupervisorOptions): Promise<WatchdogSupervisor> {
  const dir = mkdtempSync(join(tmpdir(), "xmppkit-watchdog-"));
  const path = join(dir, "notify.sock");
  const socket = await dgramSocket();
  socket.bind(path);
  const env: NodeJS.ProcessEnv = { ...(options.env ?? process.env), NOTIFY_SOCKET: path, WATCHDOG_USEC: String(Math.round(options.watchdogMs * 1000)) };
  delete env.WATCHDOG_PID;
  const child = spawn(options.command, options.args ?? [], { env, cwd: options.cwd, stdio: options.stdio ?? ["ignore", "pipe", "pipe"] });
  const killer = fence(child, options.abortTimeoutMs ?? 1000);
  const watchdog = watchdogTimer(options.watchdogMs, () => killer.fire());
  let onReady!: () => void;
  let onFenced!: (f: Fenced) => void;
  const ready = new Promise<void>((r) => (onReady = r));
  const fenced = new Promise<Fenced>((r) => (onFenced = r));
  let fencedWith: Fenced | undefined;
  const handler = notificationHandler(
    watchdog,
    () => killer.fire(),
    () => onReady(),
  );
  socket.on("error", () => undefined); // a bound receiving socket has nothing to fail on; never crash the test process
  socket.on("data", (buf) => handler.receive(buf.toString()));
  const exited = childExit(child, () => {
    watchdog.disarm();
    killer.cancel();
  }).then(async (end) => {
    // Datagrams sent just before the exit may still be queued on the socket: let them be read, then close.
    await new Promise((r) => setTimeout(r, 100));
    socket.close();
    rmSync(dir, { recursive: true, force: true });
    if (killer.firedAt !== undefined) {
      fencedWith = { at: end.at, firedAt: killer.firedAt, signal: end.signal };
      onFenced(fencedWith);
    }
    return { code: end.code, signal: end.signal };
  });
  return {
    child,
    notifications: handler.notifications,
    ready,
    fenced,
    exited,
    get pings() {
      return handler.pings;
    },
    get fencedWith() {
      return fencedWith;
    },
    async stop(signal: NodeJS.Signals = "SIGKILL") {
      watchdog.disarm();
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

function childExit(child: ChildProcess, onExit: () => void): Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }> {
  return new Promise((resolve) => {
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      onExit();
      resolve({ code, signal, at: Date.now() });
    };
    if (child.exitCode !== null || child.signalCode !== null) done(child.exitCode, child.signalCode);
    else child.once("exit", done);
    child.once("error", () => done(null, null)); // could not be spawned
  });
}
