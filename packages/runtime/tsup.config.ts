import { packageBuild } from "../../tsup.shared.ts";

// shims: `import.meta.url` in the CJS build too (the logger loads pino-pretty with createRequire on demand).
export default packageBuild({ shims: true });
