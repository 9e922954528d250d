import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe } from "vitest";
import { openSqliteStore } from "./sqlite.js";
import { storeContract } from "./store-contract.js";

describe("SQLite store (libsql, file in a temp dir)", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "xmppkit-sqlite-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  storeContract(() => openSqliteStore(join(dir, "nested", "x.sqlite")));
});
