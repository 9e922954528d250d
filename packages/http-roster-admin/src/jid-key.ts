// A bare JID as the key it is compared by. Most contact JIDs are plain lowercase ASCII, which is already
// their normal form (nodeprep and nameprep leave them alone): those skip @xmpp/jid's parser, which was 7 %
// of the gateway's CPU in a roster refresh. Anything else goes through it.
import { normalizeJid } from "@xmppkit/core";

const PLAIN_BARE = /^(?:[a-z0-9_.+=-]+@)?[a-z0-9-]+(?:\.[a-z0-9-]+)*$/;

/** Whether `jid` is a bare JID in plain lowercase ASCII, and so already in its normal form. */
export const isPlainBareJid = (jid: string): boolean => PLAIN_BARE.test(jid);

/** The normal form of a bare JID (or of `jid` as given, when it does not parse). */
export function bareJidKey(jid: string): string {
  return isPlainBareJid(jid) ? jid : (normalizeJid(jid) ?? jid);
}
