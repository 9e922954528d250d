// systemdNotifier against a real unix datagram socket bound in a temp dir, as systemd binds $NOTIFY_SOCKET.
// Datagrams on one receiving socket arrive in the order they were sent (each send is a synchronous syscall),
// so "no ping before this point" is checked by sending a marker and waiting for it, never by waiting a while.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { captureLogger } from "@xmppkit/testing";
import { DgramSocket } from "node-unix-socket";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { systemdNotifier, watchdogInterval, type ServiceNotifier } from "./sd-notify.js";

const dir = mkdtempSync(join(tmpdir(), "xmppkit-sd-notify-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** A bound receiving socket (what systemd is), with what it received and a way to wait for more. */
function receiver(path = join(dir, `notify-${n++}.sock`)) {
  const socket = new DgramSocket();
  const got: string[] = [];
  let waiters: (() => void)[] = [];
  socket.on("data", (buf: Buffer) => {
    got.push(buf.toString());
    for (const w of waiters.splice(0)) w();
  });
  socket.bind(path);
  const until = async (done: () => boolean) => {
    while (!done()) await new Promise<void>((r) => waiters.push(r));
  };
  return {
    path,
    got,
    /** Wait until `count` datagrams equal to `payload` have arrived. */
    received: (payload: string, count = 1) => until(() => got.filter((g) => g === payload).length >= count),
    close: () => {
      waiters = [];
      socket.close();
    },
  };
}

const open: { close(): void }[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const o of open.splice(0)) o.close();
});
function track<T extends { close(): void }>(o: T): T {
  open.push(o);
  return o;
}
const notifierFor = async (env: NodeJS.ProcessEnv, logger?: ReturnType<typeof captureLogger>["logger"]): Promise<ServiceNotifier> =>
  track(await systemdNotifier({ env, ...(logger ? { logger } : {}) }));

describe("systemdNotifier", () => {
  it("without NOTIFY_SOCKET is a no-op and does not load node-unix-socket", async () => {
    // A fresh module registry in which loading node-unix-socket is counted.
    let loads = 0;
    vi.resetModules();
    vi.doMock("node-unix-socket", async (importOriginal) => {
      loads++;
      return importOriginal();
    });
    try {
      const fresh = await import("./sd-notify.js");
      const notifier = await fresh.systemdNotifier({ env: { WATCHDOG_USEC: "1000000" } });
      notifier.ready("up");
      notifier.status("busy");
      notifier.stopping();
      notifier.close();
      expect(notifier.watchdogMs).toBeUndefined();
      expect(loads).toBe(0);
      // The counter does count: with NOTIFY_SOCKET set, the same fresh module loads it.
      track(await fresh.systemdNotifier({ env: { NOTIFY_SOCKET: join(dir, "absent.sock") } }));
      expect(loads).toBe(1);
    } finally {
      vi.doUnmock("node-unix-socket");
      vi.resetModules();
    }
  });

  it("sends READY=1, STATUS= and STOPPING=1 datagrams, a status on one line", async () => {
    const systemd = track(receiver());
    const notifier = await notifierFor({ NOTIFY_SOCKET: systemd.path });
    expect(notifier.watchdogMs).toBeUndefined();
    notifier.ready("starting: waiting for the lease");
    notifier.status("holding the link\nsecond line");
    notifier.ready();
    notifier.stopping("stopping: closing the link");
    await systemd.received("STOPPING=1\nSTATUS=stopping: closing the link");
    expect(systemd.got).toEqual([
      "READY=1\nSTATUS=starting: waiting for the lease",
      "STATUS=holding the link second line",
      "READY=1",
      "STOPPING=1\nSTATUS=stopping: closing the link",
    ]);
  });

  it("sends to an abstract socket (@name)", async () => {
    const name = `xmppkit-sd-notify-test-${process.pid}-${n++}`;
    const systemd = track(receiver(`\0${name}`));
    const notifier = await notifierFor({ NOTIFY_SOCKET: `@${name}` });
    notifier.ready("up");
    await systemd.received("READY=1\nSTATUS=up");
  });

  it("pings WATCHDOG=1 every WATCHDOG_USEC / 2, from an unref'd timer, until stopping()", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const systemd = track(receiver());
    const notifier = await notifierFor({ NOTIFY_SOCKET: systemd.path, WATCHDOG_USEC: "4000000" });
    expect(notifier.watchdogMs).toBe(4000);
    const pingsBefore = async (mark: string) => {
      notifier.status(mark);
      await systemd.received(`STATUS=${mark}`);
      return systemd.got.slice(0, systemd.got.indexOf(`STATUS=${mark}`)).filter((g) => g === "WATCHDOG=1").length;
    };
    vi.advanceTimersByTime(1999);
    expect(await pingsBefore("a")).toBe(0);
    vi.advanceTimersByTime(1);
    expect(await pingsBefore("b")).toBe(1);
    vi.advanceTimersByTime(2000 * 4);
    expect(await pingsBefore("c")).toBe(5);
    notifier.stopping();
    vi.advanceTimersByTime(2000 * 10);
    expect(await pingsBefore("d")).toBe(5);
    expect(systemd.got).toContain("STOPPING=1");
  });

  it("pings with real timers too (a short WATCHDOG_USEC)", async () => {
    const systemd = track(receiver());
    const notifier = await notifierFor({ NOTIFY_SOCKET: systemd.path, WATCHDOG_USEC: "40000" });
    expect(notifier.watchdogMs).toBe(40);
    await systemd.received("WATCHDOG=1", 5);
    notifier.close();
  });

  it("pings when WATCHDOG_PID is this process; not when it names another one", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const systemd = track(receiver());
    const other = await notifierFor({ NOTIFY_SOCKET: systemd.path, WATCHDOG_USEC: "1000000", WATCHDOG_PID: String(process.pid + 1) });
    expect(other.watchdogMs).toBeUndefined();
    vi.advanceTimersByTime(10_000);
    other.status("other");
    await systemd.received("STATUS=other");
    expect(systemd.got).toEqual(["STATUS=other"]);
    const self = await notifierFor({ NOTIFY_SOCKET: systemd.path, WATCHDOG_USEC: "1000000", WATCHDOG_PID: String(process.pid) });
    expect(self.watchdogMs).toBe(1000);
    vi.advanceTimersByTime(500);
    await systemd.received("WATCHDOG=1");
  });

  it("a socket that does not exist: one warning (no stack), never a throw", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const { logger, lines } = captureLogger("debug");
    const path = join(dir, "missing", "notify.sock");
    const notifier = await notifierFor({ NOTIFY_SOCKET: path, WATCHDOG_USEC: "1000000" }, logger);
    notifier.ready("up");
    notifier.status("holding");
    vi.advanceTimersByTime(5000);
    notifier.stopping("bye");
    notifier.close();
    notifier.ready("after close");
    expect(lines()).toEqual([
      expect.objectContaining({
        level: 40,
        socket: path,
        err: expect.stringMatching(/no such file/i),
        msg: "systemd notify: a notification could not be sent; systemd will consider this process hung after 1000 ms without a watchdog ping",
      }),
    ]);
    expect(JSON.stringify(lines())).not.toContain("stack");
  });

  it("watchdogInterval reads WATCHDOG_USEC and WATCHDOG_PID as sd_watchdog_enabled(3) does", () => {
    expect(watchdogInterval({ WATCHDOG_USEC: "10000000" })).toBe(10_000);
    expect(watchdogInterval({ WATCHDOG_USEC: "10000000", WATCHDOG_PID: "42" }, 42)).toBe(10_000);
    expect(watchdogInterval({ WATCHDOG_USEC: "10000000", WATCHDOG_PID: "43" }, 42)).toBeUndefined();
    expect(watchdogInterval({ WATCHDOG_USEC: "0" })).toBeUndefined();
    expect(watchdogInterval({ WATCHDOG_USEC: "soon" })).toBeUndefined();
    expect(watchdogInterval({})).toBeUndefined();
  });

  it("holds nothing open: a process that notified and pings exits by itself, without close()", async () => {
    const systemd = track(receiver());
    const script = `const { systemdNotifier } = await import(${JSON.stringify(join(import.meta.dirname, "sd-notify.ts"))});
      const n = await systemdNotifier(); n.ready("up"); await new Promise((r) => setTimeout(r, 100)); n.status("done");`;
    const child = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
      env: { PATH: process.env.PATH, NOTIFY_SOCKET: systemd.path, WATCHDOG_USEC: "20000" },
      timeout: 20_000, // only turns a hang into a failure
    });
    expect(child.stderr).toBe("");
    await systemd.received("STATUS=done");
    expect(systemd.got[0]).toBe("READY=1\nSTATUS=up");
    expect(systemd.got).toContain("WATCHDOG=1");
  });
});
