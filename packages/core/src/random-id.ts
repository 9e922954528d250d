// Unpredictable stanza ids: a reply can only be matched by one who saw the request.
// https://www.rfc-editor.org/rfc/rfc6120#section-8.1.3
import { randomFillSync } from "node:crypto";

const ID_BYTES = 9;
/** Random bytes for 256 ids, drawn from the CSPRNG at once: one `randomBytes` call per id cost ~3 % of a busy gateway's CPU. */
const idPool = Buffer.alloc(ID_BYTES * 256);
let idOffset = idPool.length;

/** An unpredictable stanza id (72 random bits from the CSPRNG, 12 base64url characters); each pooled byte is used once. */
export function randomId(): string {
  if (idOffset === idPool.length) {
    randomFillSync(idPool);
    idOffset = 0;
  }
  const id = idPool.toString("base64url", idOffset, idOffset + ID_BYTES);
  idOffset += ID_BYTES;
  return id;
}
