import { startPostgres, type Postgres } from "@xmppkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStoreWhenReachable, storeErrorText, storeUnreachable } from "./store-wait.js";

describe("storeUnreachable", () => {
  it("waits for a server that is down or not ready; a wrong setting is not waited for", () => {
    expect(storeUnreachable(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }))).toBe(true);
    expect(storeUnreachable(Object.assign(new Error("the database system is starting up"), { code: "57P03" }))).toBe(true);
    expect(storeUnreachable(new AggregateError([Object.assign(new Error("a"), { code: "ECONNREFUSED" })]))).toBe(true);
    expect(storeUnreachable(Object.assign(new Error('password authentication failed for user "x"'), { code: "28P01" }))).toBe(false);
    expect(storeUnreachable(Object.assign(new Error('database "nope" does not exist'), { code: "3D000" }))).toBe(false);
    expect(storeErrorText(new AggregateError([new Error("connect ECONNREFUSED ::1:5432"), new Error("connect ECONNREFUSED 127.0.0.1:5432")]))).toBe(
      "connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432",
    );
  });
});

describe("openStoreWhenReachable", () => {
  let pg: Postgres;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(() => pg?.stop());

  it("waits while PostgreSQL is down, saying why, and opens the store once it is back", async () => {
    const url = await pg.createDatabase();
    await pg.halt();
    const waits: string[] = [];
    let resumed: Promise<void> | undefined;
    const store = await openStoreWhenReachable(
      { postgres: url },
      {
        backoff: { initial: 50, max: 200 },
        onWaiting(error) {
          waits.push(error);
          if (waits.length === 2) resumed = pg.resume(); // back after two refusals
        },
      },
    );
    await resumed;
    expect(waits[0]).toMatch(/ECONNREFUSED/);
    expect(await store.query<{ one: number }>("SELECT 1 AS one")).toEqual([{ one: 1 }]);
    await store.close();
  });

  it("a database that does not exist is said at once; an abort ends the wait", async () => {
    await expect(openStoreWhenReachable({ postgres: `${pg.url.replace(/\/postgres$/, "")}/nope` })).rejects.toThrow(/does not exist/);
    await pg.halt();
    const abort = new AbortController();
    const waiting = openStoreWhenReachable({ postgres: pg.url }, { signal: abort.signal, onWaiting: () => abort.abort(new Error("stopped")) });
    await expect(waiting).rejects.toThrow("stopped");
    await pg.resume();
  });
});
