// Is the SQLite file a store writes still the one it opened, where it was, and writable? None of that shows
// in the writes themselves: after `rm -rf` of its directory, or once another file took its name, the open
// file takes every write (into a file nobody can open any more: a restart starts an empty store); a full
// disk or a read-only file system shows only as the writes that fail.
//
// The watch checks every few seconds (and when asked, at most once a second): a stat of the path against the
// identity (device, inode) the file had when it was opened, and access(W_OK) of the file and its directory,
// three system calls; and the store's last write error, which a write that succeeds clears. While writes
// fail, each check also has the store try one (a probe), so that the state comes back without waiting for
// work that a 503 keeps away. Its timer is unref'd: it never keeps a process alive.
import { accessSync, constants, statSync } from "node:fs";
import { dirname, resolve } from "node:path";

/** ok; gone: the file is not at its path any more; replaced: another file is; unwritable: writes fail or would. */
export type StoreState = "ok" | "gone" | "replaced" | "unwritable";

export interface StoreHealth {
  readonly state: StoreState;
  /** What is wrong, in one line naming the file (not when ok). */
  readonly reason?: string;
}

export interface StoreWatchOptions {
  /** How often the file is checked (default 5 s; 0: only when asked). */
  intervalMs?: number;
  /** Called when the state or its reason changes, e.g. to log it. */
  onChange?(health: StoreHealth, previous: StoreHealth): void;
}

export interface StoreWatch {
  /** The state now: checked again when the last check is more than a second old. */
  readonly health: StoreHealth;
  /** Check now. */
  check(): StoreHealth;
  stop(): void;
}

/** What the watch asks the store. */
export interface WatchedStore {
  file: string;
  /** The last write's error (a full disk, a read-only file system), until a write succeeds. */
  writeError(): string | undefined;
  /** Try a write (called only while `writeError()` says one failed); clears the error when it succeeds. */
  probe(): Promise<void>;
}

const OK: StoreHealth = { state: "ok" };
const ASKED_AT_MOST_EVERY_MS = 1000;

/** The open stores' watches, by resolved path (a process may open a file more than once). */
const watches = new Map<string, Set<StoreWatch>>();

/** The state of the SQLite store(s) this process has open at `file`; undefined when none is watched there. */
export function sqliteHealth(file: string): StoreHealth | undefined {
  const open = watches.get(resolve(file));
  if (!open?.size) return undefined;
  const states = [...open].map((w) => w.health);
  return states.find((h) => h.state !== "ok") ?? OK;
}

/** What is wrong with `file` on disk, compared with the identity it had when opened. */
function fileProblem(file: string, opened: { dev: bigint; ino: bigint }): StoreHealth | undefined {
  let now: { dev: bigint; ino: bigint };
  try {
    now = statSync(file, { bigint: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR")
      return {
        state: "gone",
        reason: `${file} is gone (deleted, or its directory removed): writes go to a file nobody can open, and a restart would start an empty store`,
      };
    return { state: "unwritable", reason: `${file} cannot be checked (${code ?? (err as Error).message})` };
  }
  if (now.dev !== opened.dev || now.ino !== opened.ino)
    return { state: "replaced", reason: `${file} was replaced by another file: writes go to the one opened before, which a restart would not open` };
  for (const path of [file, dirname(file)]) {
    try {
      accessSync(path, constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      return {
        state: "unwritable",
        reason: path === file ? `${file} is not writable (${code})` : `${path}, the directory of ${file}, is not writable (${code})`,
      };
    }
  }
  return undefined;
}

/** Watch the file of an open store (call right after opening it: its identity now is the one it opened). */
export function watchStoreFile(store: WatchedStore, options: StoreWatchOptions = {}): StoreWatch {
  const key = resolve(store.file);
  const opened = statSync(store.file, { bigint: true });
  let health = OK;
  let checkedAt = 0;
  let probing = false;
  let stopped = false;

  function set(next: StoreHealth) {
    if (stopped || (next.state === health.state && next.reason === health.reason)) return;
    const previous = health;
    health = next;
    options.onChange?.(next, previous);
  }

  function check(): StoreHealth {
    checkedAt = Date.now();
    const problem = fileProblem(store.file, opened);
    const failed = store.writeError();
    set(problem ?? (failed ? { state: "unwritable", reason: `writes to ${store.file} fail: ${failed}` } : OK));
    if (!problem && failed && !probing) {
      probing = true;
      store
        .probe()
        .then(check, () => undefined)
        .finally(() => {
          probing = false;
        });
    }
    return health;
  }

  const timer = options.intervalMs === 0 ? undefined : setInterval(check, options.intervalMs ?? 5000);
  timer?.unref();
  const watch: StoreWatch = {
    get health() {
      if (!stopped && Date.now() - checkedAt >= ASKED_AT_MOST_EVERY_MS) check();
      return health;
    },
    check,
    stop() {
      stopped = true;
      clearInterval(timer);
      watches.get(key)?.delete(watch);
      if (!watches.get(key)?.size) watches.delete(key);
    },
  };
  watches.set(key, (watches.get(key) ?? new Set()).add(watch));
  return watch;
}
