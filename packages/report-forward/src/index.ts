export * from "./report.js";
export * from "./contact-addresses.js";
