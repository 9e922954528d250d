// Shared build for every published package: ESM + CJS + .d.ts/.d.cts, Node 22 target.
import { defineConfig, type Options } from "tsup";

export function packageBuild(overrides: Options = {}) {
  return defineConfig({
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    dts: true,
    clean: true,
    sourcemap: true,
    target: "node22",
    // Shared chunks: a package with two entries (main, ./gateway) ships its feature once, so one class and one
    // module state serve both entries in an app that imports both.
    splitting: true,
    ...overrides,
  });
}
