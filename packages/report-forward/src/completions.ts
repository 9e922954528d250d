// What a submitter is promised: every destination's outcome of a report accepted in this process, once
// the outbox is done with it (delivered everywhere, or given up). Reports left by a previous run have no
// one waiting, and their outcomes are not kept.
import type { Destination } from "./report-types.js";

export interface Completions {
  /** Start collecting report `id`'s outcomes; resolves with all of them on `finish(id)`. */
  expect(id: string): Promise<Destination[]>;
  /** Outcomes of one delivery round (ignored when nobody waits for `id`). */
  record(id: string, destinations: readonly Destination[]): void;
  /** The report is finished: resolve its promise with what was recorded. */
  finish(id: string): void;
  /** Nobody will finish `id` (it could not be stored): stop collecting, leave its promise pending. */
  forget(id: string): void;
}

export function createCompletions(): Completions {
  const waiting = new Map<string, { resolve(d: Destination[]): void; all: Destination[] }>();
  return {
    expect: (id) => new Promise<Destination[]>((resolve) => waiting.set(id, { resolve, all: [] })),
    record(id, destinations) {
      waiting.get(id)?.all.push(...destinations);
    },
    finish(id) {
      const c = waiting.get(id);
      waiting.delete(id);
      c?.resolve(c.all);
    },
    forget(id) {
      waiting.delete(id);
    },
  };
}
