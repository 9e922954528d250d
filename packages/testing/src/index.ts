export * from "./mock-entity.js";
export * from "./prosody.js";
export * from "./clients.js";
export * from "./muc.js";
export * from "./ports.js";
export * from "./postgres.js";
export * from "./http-backend.js";
export * from "./fault-server.js";
export * as modReportForward from "./fixtures/mod-report-forward.js";
