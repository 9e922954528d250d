import { TypedEmitter } from "@xmppkit/core";
import { captureLogger } from "@xmppkit/testing";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { watchGrants } from "./grant-watch.js";
import { reportGrants } from "./grants.js";

vi.mock("./grants.js", () => ({ reportGrants: vi.fn(async () => undefined) }));
const report = vi.mocked(reportGrants);

const config = { server_domain: "example.org", component: { domain: "gw.example.org" } } as never;
const prepared = [{ definition: { name: "desk" }, requires: { delegations: ["urn:x"] } }] as never;
const flush = () => new Promise((r) => setImmediate(r));

describe("checking the server's grants", () => {
  beforeEach(() => report.mockClear());

  it("the first connect is checked by start-up; every later one by itself", async () => {
    const lifecycle = new TypedEmitter<{ online: unknown }>();
    const { logger } = captureLogger();
    const grants = watchGrants({ kit: { lifecycle } as never, log: logger }, config, prepared);
    lifecycle.emit("online", {});
    await flush();
    expect(report).not.toHaveBeenCalled();
    await grants.first();
    expect(report).toHaveBeenCalledTimes(1);
    expect(report.mock.calls[0]![1]).toEqual({
      server: "example.org",
      component: "gw.example.org",
      needs: [{ module: "desk", requires: { delegations: ["urn:x"] } }],
    });
    lifecycle.emit("online", {});
    await flush();
    expect(report).toHaveBeenCalledTimes(2);
  });

  it("a failed check is logged, not thrown", async () => {
    report.mockRejectedValueOnce(new Error("no answer"));
    const { logger, lines } = captureLogger();
    await watchGrants({ kit: { lifecycle: new TypedEmitter() } as never, log: logger }, config, prepared).first();
    expect(lines().map((l) => l.msg)).toEqual(["checking the server's grants failed"]);
  });
});
