import { packageBuild } from "../../tsup.shared.ts";

// shims: `import.meta.url` in the CJS build too (the logger loads pino-pretty with createRequire on demand).
// zod is bundled: loaded from its ~300 files it took ~60 ms of the gateway's start, as one file ~35 ms
// (bench/startup). Its types still come from the zod dependency, the same version; `z` is this copy.
// pino is bundled into its own CommonJS file, dist/vendor/pino.cjs, that the logger requires on first use
// (~14 ms less than pino's ~30 modules); its types still come from the pino dependency.
export default [
  packageBuild({ shims: true, noExternal: ["zod"] }),
  packageBuild({ entry: { "vendor/pino": "src/vendor/pino.ts" }, format: ["cjs"], dts: false, clean: false, noExternal: ["pino"] }),
];
