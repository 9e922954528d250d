import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteStore } from "@xmppkit/runtime";
import { afterAll, describe } from "vitest";
import { auditLogContract } from "./audit-log-contract.js";

describe("audit log on SQLite (the default store)", () => {
  const dir = mkdtempSync(join(tmpdir(), "xmppkit-audit-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  auditLogContract(() => openSqliteStore(join(dir, "audit.sqlite")));
});
