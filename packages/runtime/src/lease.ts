// Who may open the component link: one holder at a time, for an active/standby pair of gateways.
//
// PostgreSQL: a session advisory lock (pg_try_advisory_lock) on a dedicated connection. The server frees it
// the moment that connection ends, so a holder that dies (kill -9, a crash, its machine gone with the TCP
// connection reset) is replaced within one poll of the standby, with no clock and no lease row to expire.
// A holder that cannot reach PostgreSQL any more (a partition) cannot know whether the server still sees
// its session, so it gives the lease up itself within `checkTimeoutMs` + `checkIntervalMs`; the server side
// is told (tcp_keepalives_*) to drop a silent session only after that, so the holder fences itself first.
//
// SQLite: a lock file beside the database, named after the file's identity (device and inode), with the
// holder's pid. A second process on the same file, by whatever name, refuses to start instead of writing the
// same file and opening a second link.
import { XmppkitError, sleep } from "@xmppkit/core";
import { closeSync, existsSync, openSync, readFileSync, realpathSync, statSync, unlinkSync, writeSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type pg from "pg";

export interface Lease {
  /** Wait until held (a standby polls); rejects when `signal` aborts. Resolves with whether it had to wait. */
  acquire(signal?: AbortSignal): Promise<{ waited: boolean }>;
  readonly held: boolean;
  /** Called once if the lease is lost while held (PostgreSQL unreachable, the session ended). */
  onLost(fn: (reason: string) => void): void;
  /** Give the lease up (at once: a standby takes over at its next poll) and close the connection. */
  release(): Promise<void>;
}

export interface PostgresLeaseOptions {
  url: string;
  /** What is locked: the component's domain (one link per domain). */
  name: string;
  /** How often a standby asks for the lock (default 1 s). */
  pollMs?: number;
  /** How often the holder checks its session (default 1 s), and how long a check may take (default 2 s). */
  checkIntervalMs?: number;
  checkTimeoutMs?: number;
  onWaiting?: (info: { attempt: number; error?: string }) => void;
}

/** This process, as the audit log and the logs name it. */
export const instanceName = (): string => `${hostname()}:${process.pid}`;

/**
 * The lease's own session. PostgreSQL is told to drop it soon after the holder went silent (keepalives, and
 * tcp_user_timeout for an answer left unacknowledged), but only after the holder fenced itself (`fenceMs`).
 */
async function connectLeaseSession(url: string, fenceMs: number, lose: (reason: string) => void): Promise<pg.Client> {
  const { Client } = (await import("pg")).default;
  const c = new Client({ connectionString: url, keepAlive: true, application_name: `xmppkit-gateway lease ${instanceName()}` });
  c.on("error", (err) => lose(`the lease connection failed: ${err.message}`));
  c.on("end", () => lose("the lease connection closed"));
  await c.connect();
  // The server drops a silent session after ~idle + interval × count; the holder fences itself sooner.
  const idle = Math.ceil(fenceMs / 1000) + 2;
  await c.query(`SET tcp_keepalives_idle = ${idle}; SET tcp_keepalives_interval = 1; SET tcp_keepalives_count = 3`).catch(() => undefined);
  // tcp_user_timeout (PostgreSQL 12+): also when an answer to the holder is left unacknowledged (its machine
  // hung mid-reply), where keepalives do not run and the kernel would retransmit for ~15 min.
  await c.query(`SET tcp_user_timeout = ${idle * 1000 + 3000}`).catch(() => undefined);
  return c;
}

export function postgresLease(options: PostgresLeaseOptions): Lease {
  const pollMs = options.pollMs ?? 1000;
  const checkIntervalMs = options.checkIntervalMs ?? 1000;
  const checkTimeoutMs = options.checkTimeoutMs ?? 2000;
  let client: pg.Client | undefined;
  let held = false;
  let lostHandlers: ((reason: string) => void)[] = [];
  let checkTimer: NodeJS.Timeout | undefined;

  const connect = () => connectLeaseSession(options.url, checkIntervalMs + checkTimeoutMs, lose);

  function lose(reason: string) {
    if (!held) return;
    held = false;
    clearInterval(checkTimer);
    const c = client;
    client = undefined;
    void c?.end().catch(() => undefined);
    const handlers = lostHandlers;
    lostHandlers = [];
    for (const fn of handlers) fn(reason);
  }

  async function check() {
    const c = client;
    if (!c || !held) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`PostgreSQL did not answer within ${checkTimeoutMs} ms`)), checkTimeoutMs);
    });
    try {
      await Promise.race([c.query("SELECT 1"), timeout]);
    } catch (err) {
      lose(`the lease could not be confirmed: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    get held() {
      return held;
    },
    async acquire(signal) {
      for (let attempt = 1; ; attempt++) {
        signal?.throwIfAborted();
        try {
          client ??= await connect();
          const { rows } = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtext($1)) AS ok", [`xmppkit-gateway:${options.name}`]);
          if (rows[0]?.ok) {
            held = true;
            checkTimer = setInterval(() => void check(), checkIntervalMs);
            checkTimer.unref();
            return { waited: attempt > 1 };
          }
          options.onWaiting?.({ attempt });
        } catch (err) {
          const c = client;
          client = undefined;
          await c?.end().catch(() => undefined);
          options.onWaiting?.({ attempt, error: (err as Error).message });
        }
        try {
          await sleep(pollMs, signal);
        } catch (err) {
          // Aborted while waiting: close the connection (the lock was never held).
          const c = client;
          client = undefined;
          await c?.end().catch(() => undefined);
          throw err;
        }
      }
    },
    onLost(fn) {
      lostHandlers.push(fn);
    },
    async release() {
      const c = client;
      const wasHeld = held;
      held = false;
      lostHandlers = [];
      clearInterval(checkTimer);
      client = undefined;
      if (!c) return;
      if (wasHeld) await c.query("SELECT pg_advisory_unlock(hashtext($1))", [`xmppkit-gateway:${options.name}`]).catch(() => undefined);
      await c.end().catch(() => undefined);
    },
  };
}

export class LockedError extends XmppkitError {
  static override readonly brand = "LockedError";
}

export interface FileLock {
  /** The real file (symlinks resolved), as the lock names it. */
  readonly file: string;
  /** How many names (hard links) the file has: more than one is a hazard of its own for SQLite. */
  readonly links: number;
  release(): void;
}

/**
 * One process per file (e.g. the SQLite database): throws LockedError while a live process holds it. The
 * lock keys on the file's identity (device and inode of the real file), not on its name: a second process
 * that names the file through a symlink, a symlinked directory, a relative path or a hard link is refused
 * too. A file that does not exist yet is created (empty, which SQLite takes for a new database), so that it
 * has an identity before anyone writes it.
 *
 * The lock file, `xmppkit-sqlite-<dev>-<ino>.lock`, lives in the real file's directory: the one place that
 * every process able to write the database can write too (systemd's PrivateTmp= gives each service its own
 * /tmp, ProtectSystem=strict leaves only ReadWritePaths=). A hard link in another directory has another
 * directory, so the same name is also taken in the temp directory, which catches it where the processes
 * share one.
 */
export function fileLock(file: string): FileLock {
  const id = fileIdentity(file);
  const name = `xmppkit-sqlite-${id.dev}-${id.ino}.lock`;
  const beside = join(dirname(id.real), name);
  const own = takeLockFile(beside, file);
  let shared: (() => void) | undefined;
  try {
    const tmp = join(realpathSync(tmpdir()), name);
    if (tmp !== beside) shared = takeLockFile(tmp, file);
  } catch (err) {
    if (LockedError.isInstance(err)) {
      own();
      throw err;
    }
    // best effort: no writable temp directory
  }
  let released = false;
  return {
    file: id.real,
    links: id.links,
    release() {
      if (released) return;
      released = true;
      shared?.();
      own();
    },
  };
}

/** The real file behind `file` (created empty when missing) and its identity. */
function fileIdentity(file: string): { real: string; dev: bigint; ino: bigint; links: number } {
  if (!existsSync(file)) closeSync(openSync(file, "a")); // through a dangling symlink too: its target
  const real = realpathSync(file);
  const st = statSync(real, { bigint: true });
  return { real, dev: st.dev, ino: st.ino, links: Number(st.nlink) };
}

/** Create the lock file at `path` for `file`; a lock left by a process that is gone is taken over. Returns its release. */
function takeLockFile(path: string, file: string): () => void {
  const ours = resolve(file);
  for (let tries = 0; tries < 3; tries++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, `${process.pid} ${instanceName()} ${ours}\n`);
      closeSync(fd);
      return () => removeFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = lockHolder(path);
    if (holder && holder.pid !== process.pid && alive(holder.pid)) {
      const as = holder.file && holder.file !== ours ? ` (as ${holder.file})` : "";
      throw new LockedError(
        `another gateway (pid ${holder.pid}${holder.who ? `, ${holder.who}` : ""}) is using ${file}${as}; two writers and two component links would clash`,
      );
    }
    removeFile(path); // left by a process that is gone (or released meanwhile)
  }
  throw new LockedError(`cannot take the lock ${path}`);
}

/** Who holds the lock file at `path` ("<pid> <host:pid> <file>"); undefined when it is gone or unreadable. */
function lockHolder(path: string): { pid: number; who: string | undefined; file: string | undefined } | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  const [, pid, who, file] = /^(\d+)(?: (\S+))?(?: (.+))?\n?$/.exec(text) ?? [];
  return pid ? { pid: Number(pid), who, file } : undefined;
}

function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
