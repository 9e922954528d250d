import { packageBuild } from "../../tsup.shared.ts";

// shims: `import.meta.url` in the CJS build too (the logger loads pino-pretty with createRequire on demand).
// zod is bundled: loaded from its ~300 files it took ~60 ms of the gateway's start, as one file ~35 ms
// (bench/startup). Its types still come from the zod dependency, the same version; `z` is this copy.
export default packageBuild({ shims: true, noExternal: ["zod"] });
