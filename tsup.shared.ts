// Shared build for every published package: ESM + CJS + .d.ts/.d.cts, Node 20 target.
import { defineConfig, type Options } from "tsup";

export function packageBuild(overrides: Options = {}) {
  return defineConfig({
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    dts: true,
    clean: true,
    sourcemap: true,
    target: "node20",
    splitting: false,
    ...overrides,
  });
}
