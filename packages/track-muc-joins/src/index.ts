export * from "./join-tracker.js";
