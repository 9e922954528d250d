// One gateway of an active/standby pair as bench/failover runs it: a node with its own config and HTTP port,
// its process (`xmppkit-gateway`, as deployed) under a supervisor that speaks systemd's notify protocol with a
// watchdog (`superviseWithWatchdog` from @xmppkit/testing), and started again `restartMs` after it failed, as
// the shipped unit does (Restart=on-failure, RestartPreventExitStatus=3 4, RestartSec=). Every process's
// output is appended to `logPath`.
import { closeSync, openSync } from "node:fs";
import { superviseWithWatchdog } from "@xmppkit/testing";
import { gatewayCli, sleep } from "./gateway-process.mjs";

/** Exits the unit does not restart after: a clean stop (0), a bad config (3), refused by the server (4). */
const NO_RESTART = new Set([0, 3, 4]);

/**
 * What /healthz says, in one word: ok (200), standby (another instance holds the lease), asking (PostgreSQL
 * has not answered the lease question yet), cut-off (a standby that cannot reach PostgreSQL), waiting (for
 * PostgreSQL, at start-up), unavailable (holding the lease, link down).
 */
function stateOf(code, body) {
  if (code === 200) return "ok";
  const reason = body?.reason ?? "";
  if (body?.status === "waiting") return "waiting";
  if (body?.status !== "standby") return "unavailable";
  if (reason.includes("another instance holds")) return "standby";
  return reason.startsWith("standby: cannot reach PostgreSQL") ? "cut-off" : "asking";
}

/**
 * Start node `name`: `configPath` (its `http.listen` is 127.0.0.1:`port`, `token` its bearer token) under a
 * watchdog of `watchdogMs` (WatchdogSec=) and `abortTimeoutMs` (TimeoutAbortSec=), restarted after `restartMs`.
 * `node.proc` is the current process: { sup, pid, startedAt, endedAt, end, cause }, times from
 * performance.now(); whoever ends a process on purpose sets its `cause` first, so an exit without one is a crash.
 */
export async function supervisedGateway({ name, port, token, configPath, logPath, watchdogMs, abortTimeoutMs, restartMs }) {
  const base = `http://127.0.0.1:${port}`;
  const node = {
    name,
    port,
    proc: undefined,
    /** Every process so far, oldest first. */
    procs: [],
    stopping: false,
    /** "ok", "standby", "asking", "cut-off", "waiting", "unavailable", or "down" (no answer within 1 s: not running, or frozen). */
    state: () =>
      fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) }).then(
        async (r) => stateOf(r.status, await r.json().catch(() => undefined)),
        () => "down",
      ),
    /** POST /reports; the response, or undefined when the request failed (no process, or none answering within 10 s). */
    post: (body) =>
      fetch(`${base}/reports`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      }).catch(() => undefined),
    /** SIGTERM (SIGKILL after 15 s), and no restart. */
    async stop() {
      node.stopping = true;
      const proc = node.proc;
      if (proc.end) return;
      proc.cause = "stop";
      const ended = await Promise.race([proc.sup.stop("SIGTERM"), sleep(15_000)]);
      if (!ended) await proc.sup.stop("SIGKILL");
    },
  };

  async function launch() {
    const fd = openSync(logPath, "a");
    let sup;
    try {
      sup = await superviseWithWatchdog({
        command: process.execPath,
        args: [gatewayCli, "--config", configPath],
        watchdogMs,
        abortTimeoutMs,
        stdio: ["ignore", fd, fd],
      });
    } finally {
      closeSync(fd); // the child has its own
    }
    const proc = { sup, pid: sup.child.pid, startedAt: performance.now(), endedAt: undefined, end: undefined, cause: undefined };
    node.proc = proc;
    node.procs.push(proc);
    sup.child.once("exit", () => (proc.endedAt = performance.now()));
    void sup.exited.then((end) => {
      proc.end = end;
      if (!node.stopping && !NO_RESTART.has(end.code)) setTimeout(relaunch, restartMs);
    });
  }
  function relaunch() {
    if (node.stopping) return;
    launch().catch((err) => {
      console.error(`node ${name}: could not start the gateway again (${err.message}); retrying`);
      setTimeout(relaunch, restartMs);
    });
  }

  await launch();
  return node;
}
