import { startPostgres, type Postgres } from "@xmppkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgresStore, toPgPlaceholders } from "./postgres.js";
import { storeContract } from "./store-contract.js";

describe("toPgPlaceholders", () => {
  it("numbers ? outside quotes only", () => {
    expect(toPgPlaceholders("SELECT * FROM t WHERE a = ? AND b = '?' AND \"c?\" = ?")).toBe("SELECT * FROM t WHERE a = $1 AND b = '?' AND \"c?\" = $2");
  });
});

describe("PostgreSQL store (real server from Debian's postgresql package)", () => {
  let pg: Postgres;
  let url = "";
  beforeAll(async () => {
    pg = await startPostgres();
    url = await pg.createDatabase("contract");
  }, 60_000);
  afterAll(async () => {
    await pg?.stop();
  });

  storeContract(() => openPostgresStore(url));

  it("two gateways migrating the same database at once apply each migration once", async () => {
    const [a, b] = await Promise.all([openPostgresStore(url), openPostgresStore(url)]);
    const migrations = [{ version: 1, name: "shared", sql: "CREATE TABLE t_shared (id INTEGER)" }];
    await Promise.all([a.migrate("shared", migrations), b.migrate("shared", migrations)]);
    const rows = await a.query("SELECT version FROM xmppkit_migrations WHERE owner = ?", ["shared"]);
    expect(rows).toHaveLength(1);
    await Promise.all([a.close(), b.close()]);
  });

  it("a wrong URL fails at open with the server's reason", async () => {
    await expect(openPostgresStore(`postgres://postgres@127.0.0.1:${pg.port}/no_such_db`)).rejects.toThrow(/no_such_db/);
  });
});
