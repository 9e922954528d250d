import { startPostgres, waitFor, type Postgres } from "@xmppkit/testing";
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

  it("notify reaches every listener on the database (another process's store too); after a lost connection, listeners are told to read again", async () => {
    const [a, b] = await Promise.all([openPostgresStore(url), openPostgresStore(url)]);
    const heard: (string | undefined)[] = [];
    const stop = await b.listen!("xmppkit_test", (p) => heard.push(p));
    await a.notify!("xmppkit_test", "r1");
    await a.notify!("other_channel", "x");
    await waitFor(() => heard.length === 1, "the notification");
    expect(heard).toEqual(["r1"]);
    // PostgreSQL ends the listening session (what a restart does to it): the listener is told to read again.
    await a.run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'xmppkit notifications'");
    await waitFor(() => heard.length === 2, "the read-again call after the reconnect", 15_000);
    expect(heard[1]).toBeUndefined();
    await a.notify!("xmppkit_test", "r2");
    await waitFor(() => heard.length === 3, "a notification on the new connection");
    expect(heard[2]).toBe("r2");
    stop();
    let synced = false;
    await b.listen!("xmppkit_test_sync", () => (synced = true));
    await a.notify!("xmppkit_test", "r3");
    await a.notify!("xmppkit_test_sync", "");
    await waitFor(() => synced, "a later notification on another channel"); // delivered in order: r3 came before it
    expect(heard).toHaveLength(3);
    await Promise.all([a.close(), b.close()]);
  });

  it("a wrong URL fails at open with the server's reason", async () => {
    await expect(openPostgresStore(`postgres://postgres@127.0.0.1:${pg.port}/no_such_db`)).rejects.toThrow(/no_such_db/);
  });
});
