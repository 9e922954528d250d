// Audit event ids: UUIDv7 (RFC 9562), made by the uuid package, sortable in recording order.
// https://www.rfc-editor.org/rfc/rfc9562
import { randomInt } from "node:crypto";
import { v7 } from "uuid";

// uuid's v7() keeps its ids in order on its own clock only; ids for a given millisecond (the event's time) get
// the same bookkeeping here: the last millisecond used and a 32-bit counter that starts at a random point in
// each new millisecond and counts up within it (the counter fills the bits after the timestamp).
let lastMs = Number.NEGATIVE_INFINITY;
let seq = 0;

/**
 * A UUIDv7 (RFC 9562): the creation millisecond, then a counter, then random bits, so ids sort in the order
 * events were recorded and break ties between events of the same time.
 */
export function eventId(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    seq = randomInt(0x80000000);
  } else if (++seq > 0xffffffff) {
    lastMs += 1; // 2^31 or more in one millisecond (or a clock that stepped back): borrow the next one
    seq = 0;
  }
  return v7({ msecs: lastMs, seq });
}
