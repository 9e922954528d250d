// A throw-away PostgreSQL (Debian's `postgresql` package) for store tests: initdb in a temp directory,
// trust auth on 127.0.0.1 and a free port, stopped on `stop()` and when the test process exits.
// As root, the server runs as the `postgres` OS user (initdb refuses root).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, waitForPort } from "./ports.js";
import { waitFor } from "./wait.js";

const run = promisify(execFile);
export const POSTGRES_INSTALL_HINT = "apt-get install -y postgresql (as root, after apt-get update)";

export interface Postgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  url: string;
  port: number;
  dir: string;
  /** Create a fresh database and return its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Stop the server, keeping its data (an outage); `resume()` starts it again on the same port. */
  halt(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
}

function binDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb"))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error(`PostgreSQL server is not installed: ${POSTGRES_INSTALL_HINT}`);
  return join(root, newest, "bin");
}

const children = new Set<ChildProcess>();
let hooked = false;

type AsUser = (cmd: string, args: string[]) => [string, string[]];

/** One run of the server on `data` and `port`: started, and ready for queries (pg_isready). */
async function launch(bin: string, data: string, dir: string, port: number, asUser: AsUser) {
  const proc = spawn(...asUser(join(bin, "postgres"), ["-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]), {
    stdio: "ignore",
  });
  children.add(proc);
  const state = { alive: true };
  const exited = new Promise<void>((r) =>
    proc.once("exit", () => {
      state.alive = false;
      children.delete(proc);
      r();
    }),
  );
  await waitForPort(port, 20_000, () => state.alive);
  // Accepting TCP is not quite ready for queries; wait for pg_isready (for as long as a busy machine needs).
  await waitFor(
    () =>
      run(join(bin, "pg_isready"), ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres"]).then(
        () => true,
        () => (state.alive ? false : Promise.reject(new Error("postgres exited"))),
      ),
    `pg_isready on 127.0.0.1:${port}`,
    60_000,
    100,
  );
  return {
    get alive() {
      return state.alive;
    },
    async stop() {
      if (!state.alive) return;
      // The postmaster itself (as root, `proc` is runuser, which does not pass SIGINT on): a fast shutdown.
      const postmaster = Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
      const signal = (s: NodeJS.Signals) => {
        try {
          process.kill(postmaster || (proc.pid as number), s);
        } catch {
          // gone already
        }
      };
      signal("SIGINT");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
      if (state.alive) signal("SIGKILL");
      await exited;
    },
  };
}

export async function startPostgres(): Promise<Postgres> {
  const bin = binDir();
  if (!hooked) {
    hooked = true;
    process.on("exit", () => {
      for (const c of children) c.kill("SIGKILL");
    });
  }
  const isRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), "xmppkit-pg-"));
  const data = join(dir, "data");
  const asUser: AsUser = (cmd, args) => (isRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args]);
  if (isRoot) {
    const { uid, gid } = await run("id", ["-u", "postgres"]).then(async (u) => ({
      uid: Number(u.stdout),
      gid: Number((await run("id", ["-g", "postgres"])).stdout),
    }));
    chownSync(dir, uid, gid);
    chmodSync(dir, 0o700);
  }
  await run(...asUser(join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]));
  const port = await freePort();
  let server = await launch(bin, data, dir, port, asUser);
  const base = `postgres://postgres@127.0.0.1:${port}`;
  let counter = 0;
  return {
    url: `${base}/postgres`,
    port,
    dir,
    async createDatabase(name = `t${process.pid}_${++counter}`) {
      await run(join(bin, "createdb"), ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", name]);
      return `${base}/${name}`;
    },
    halt: () => server.stop(),
    async resume() {
      if (!server.alive) server = await launch(bin, data, dir, port, asUser);
    },
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
