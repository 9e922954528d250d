import { packageBuild } from "../../tsup.shared.ts";

// shims: `import.meta.url` in the CJS build too (the logger loads pino and pino-pretty with createRequire on demand).
// zod and pino are dependencies, not bundled: one copy in an application, and the `z` this package exports is
// the application's zod. Bundling them saved ~35 ms of the gateway's start (bench/startup), not worth two copies.
export default packageBuild({ shims: true });
