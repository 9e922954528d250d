import { defineModule } from "@xmppkit/core";
import { z } from "@xmppkit/runtime";
import { describe, expect, it } from "vitest";
import { parseConfig } from "./config.js";
import { prepareModules } from "./gateway.js";

const BASE = "component:\n  service: xmpp://127.0.0.1:5347\n  domain: gw.example.org\n  secret: s\nserver_domain: example.org\n";
const def = (name: string, requires: Parameters<typeof defineModule>[0]["requires"] = {}) =>
  defineModule({ name, description: name, options: z.strictObject({}), requires, setup: () => name });

describe("prepareModules", () => {
  it("sets up a module after the optional modules it names when they are enabled, and ignores them when not", async () => {
    const joins = def("joins");
    const desk = def("desk", { optionalModules: [joins] });
    const both = parseConfig(`${BASE}modules_enabled: [desk, joins]\n`).config;
    expect((await prepareModules(both, { registry: { desk, joins } })).map((p) => p.entry)).toEqual(["joins", "desk"]);
    const alone = parseConfig(`${BASE}modules_enabled: [desk]\n`).config;
    expect((await prepareModules(alone, { registry: { desk } })).map((p) => p.entry)).toEqual(["desk"]);
  });

  it("a module's section is named by its modules_enabled entry, and its errors say so", async () => {
    const desk = defineModule({ name: "desk", description: "", options: z.strictObject({ n: z.number() }), setup: () => undefined });
    const { config } = parseConfig(`${BASE}modules_enabled: ["@acme/desk"]\n"@acme/desk":\n  n: "x"\n`);
    await expect(prepareModules(config, { registry: { "@acme/desk": desk } })).rejects.toMatchObject({ issues: [{ path: "@acme/desk.n" }] });
  });
});
