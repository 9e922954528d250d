import { defineModule, z } from "@xmppkit/core";
import { describe, expect, it } from "vitest";
import { ModuleNotInstalledError, orderModules, resolveModules } from "./modules.js";

const def = (name: string) => defineModule({ name, description: name, options: z.strictObject({}), setup: () => undefined });

describe("module loading", () => {
  it("an enabled module that is not installed names the package and the install command", async () => {
    const err = await resolveModules(["no-such-module"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModuleNotInstalledError);
    expect((err as Error).message).toBe('module "no-such-module" is enabled but @xmppkit/no-such-module is not installed (pnpm add @xmppkit/no-such-module)');
  });

  it("prefers the registry", async () => {
    const a = def("a");
    expect(await resolveModules(["a"], { a })).toEqual([a]);
  });

  it("orders modules after the modules they require", () => {
    const [a, b, c] = [def("a"), def("b"), def("c")];
    const order = orderModules([{ def: a, requires: ["b"] }, { def: b, requires: ["c"] }, { def: c, requires: [] }]);
    expect(order.map((d) => d.name)).toEqual(["c", "b", "a"]);
  });

  it("reports a required module that is not enabled, and circles", () => {
    expect(() => orderModules([{ def: def("a"), requires: ["x"] }])).toThrow('module "a" requires module "x": add it to modules_enabled');
    expect(() => orderModules([{ def: def("a"), requires: ["b"] }, { def: def("b"), requires: ["a"] }])).toThrow(/circle: a → b → a/);
  });
});
