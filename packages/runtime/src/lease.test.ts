import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fileLock, LockedError } from "./lease.js";

describe("fileLock (one process per SQLite file)", () => {
  const dir = mkdtempSync(join(tmpdir(), "xmppkit-lock-"));

  it("writes the pid, and is free again after release", () => {
    const path = join(dir, "a.sqlite.lock");
    const lock = fileLock(path);
    expect(readFileSync(path, "utf8")).toMatch(new RegExp(`^${process.pid} `));
    lock.release();
    expect(existsSync(path)).toBe(false);
    fileLock(path).release();
  });

  it("refuses while another live process holds it, naming the process and the file", async () => {
    const path = join(dir, "b.sqlite.lock");
    const other = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"], { stdio: "ignore" });
    try {
      writeFileSync(path, `${other.pid} otherhost:${other.pid}\n`);
      expect(() => fileLock(path)).toThrow(LockedError);
      expect(() => fileLock(path)).toThrow(`another gateway (pid ${other.pid}, otherhost:${other.pid}) is using ${join(dir, "b.sqlite")}`);
    } finally {
      other.kill("SIGKILL");
      await new Promise((r) => other.once("exit", r));
    }
    // The holder is gone (kill -9 leaves the file): the lock is taken over.
    const lock = fileLock(path);
    expect(readFileSync(path, "utf8")).toMatch(new RegExp(`^${process.pid} `));
    lock.release();
  });
});
