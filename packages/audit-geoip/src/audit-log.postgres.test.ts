import { openPostgresStore } from "@xmppkit/runtime";
import { startPostgres, type Postgres } from "@xmppkit/testing";
import { afterAll, beforeAll, describe } from "vitest";
import { auditLogContract } from "./audit-log-contract.js";

describe("audit log on PostgreSQL (real server from Debian's postgresql package)", () => {
  let pg: Postgres;
  let url = "";
  beforeAll(async () => {
    pg = await startPostgres();
    url = await pg.createDatabase("audit");
  }, 60_000);
  afterAll(async () => {
    await pg?.stop();
  });
  auditLogContract(() => openPostgresStore(url));
});
