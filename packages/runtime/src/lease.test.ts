import { spawn } from "node:child_process";
import { existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fileLock, LockedError } from "./lease.js";

/** A live process that is not this one, holding the lock of `file` as a gateway would (its lock files written by hand). */
async function withOtherHolder(file: string, as: string, fn: (pid: number) => void): Promise<void> {
  const other = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"], { stdio: "ignore" });
  const st = statSync(file, { bigint: true });
  const name = `xmppkit-sqlite-${st.dev}-${st.ino}.lock`;
  const paths = [join(dirname(file), name), join(realpathSync(tmpdir()), name)];
  try {
    for (const p of paths) writeFileSync(p, `${other.pid} otherhost:${other.pid} ${as}\n`);
    fn(other.pid!);
  } finally {
    other.kill("SIGKILL");
    await new Promise((r) => other.once("exit", r));
  }
}

describe("fileLock (one process per SQLite file)", () => {
  const dir = mkdtempSync(join(tmpdir(), "xmppkit-lock-"));
  const held: { release(): void }[] = [];
  afterAll(() => {
    for (const l of held) l.release();
    rmSync(dir, { recursive: true, force: true });
    // Lock files this test wrote by hand in the temp directory and a failed test left behind.
    const tmp = realpathSync(tmpdir());
    for (const f of readdirSync(tmp).filter((f) => /^xmppkit-sqlite-\d+-\d+\.lock$/.test(f))) {
      const text = existsSync(join(tmp, f)) ? readFileSync(join(tmp, f), "utf8") : "";
      if (text.includes(dir)) rmSync(join(tmp, f), { force: true });
    }
  });

  it("creates the file when missing, writes the pid beside it, and is free again after release", () => {
    const file = join(dir, "a.sqlite");
    const lock = fileLock(file);
    expect(existsSync(file)).toBe(true);
    const lockFile = readdirSync(dir).find((f) => f.endsWith(".lock"))!;
    expect(lockFile).toMatch(/^xmppkit-sqlite-\d+-\d+\.lock$/);
    expect(readFileSync(join(dir, lockFile), "utf8")).toBe(`${process.pid} ${readFileSync(join(dir, lockFile), "utf8").split(" ")[1]} ${file}\n`);
    lock.release();
    expect(readdirSync(dir).filter((f) => f.endsWith(".lock"))).toEqual([]);
    fileLock(file).release();
  });

  it("refuses while another live process holds it, naming the process and the file", async () => {
    const file = join(dir, "b.sqlite");
    writeFileSync(file, "");
    await withOtherHolder(file, file, (pid) => {
      expect(() => fileLock(file)).toThrow(LockedError);
      expect(() => fileLock(file)).toThrow(`another gateway (pid ${pid}, otherhost:${pid}) is using ${file}; two writers and two component links would clash`);
    });
    // The holder is gone (kill -9 leaves the files): the lock is taken over.
    const lock = fileLock(file);
    expect(lock.file).toBe(file);
    lock.release();
  });

  it("the same file through a symlink, a symlinked directory or a hard link is the same lock", async () => {
    const real = join(dir, "real", "xmppkit.sqlite");
    mkdirSync(join(dir, "real"));
    writeFileSync(real, "");
    symlinkSync(real, join(dir, "link.sqlite"));
    symlinkSync(join(dir, "real"), join(dir, "linked-dir"));
    linkSync(real, join(dir, "real", "hard.sqlite"));
    mkdirSync(join(dir, "elsewhere"));
    linkSync(real, join(dir, "elsewhere", "hard.sqlite")); // another directory: caught by the temp directory's lock
    const names = [
      join(dir, "link.sqlite"),
      join(dir, "linked-dir", "xmppkit.sqlite"),
      join(dir, "real", "hard.sqlite"),
      join(dir, "elsewhere", "hard.sqlite"),
    ];
    await withOtherHolder(real, real, (pid) => {
      for (const name of names)
        expect(() => fileLock(name), name).toThrow(`another gateway (pid ${pid}, otherhost:${pid}) is using ${name} (as ${real}); two writers`);
      const roundabout = join(dir, "real", "..", "real", "xmppkit.sqlite"); // the holder's own name, spelt otherwise
      expect(() => fileLock(roundabout)).toThrow(`another gateway (pid ${pid}, otherhost:${pid}) is using ${roundabout}; two writers`);
    });
    // In this process: one lock per file, whichever name took it.
    const lock = fileLock(join(dir, "link.sqlite"));
    held.push(lock);
    expect([lock.file, lock.links]).toEqual([real, 3]);
  });

  it("a name that does not exist yet (a dangling symlink) is created, and locked as its target", () => {
    mkdirSync(join(dir, "target"));
    symlinkSync(join(dir, "target", "new.sqlite"), join(dir, "new-link.sqlite"));
    const lock = fileLock(join(dir, "new-link.sqlite"));
    held.push(lock);
    expect(lock.file).toBe(join(dir, "target", "new.sqlite"));
    expect(readdirSync(join(dir, "target")).some((f) => /^xmppkit-sqlite-\d+-\d+\.lock$/.test(f))).toBe(true);
  });
});
