import { createHash, randomBytes } from "node:crypto";

const KEY_PREFIX = "am_live_";
const VISIBLE_CHARS = KEY_PREFIX.length + 6;

/** A new key: the plaintext (shown once), its visible prefix and the hash we store. */
export function generateApiKeySecret(): { plaintext: string; prefix: string; hash: string } {
  const plaintext = KEY_PREFIX + randomBytes(24).toString("base64url");
  return { plaintext, prefix: plaintext.slice(0, VISIBLE_CHARS), hash: hashApiKey(plaintext) };
}

// Keys are 192 random bits, so a fast hash is enough: there is nothing to brute-force.
export function hashApiKey(plaintext: string): string {
  return createHash("sha256").update(plaintext).digest("hex");
}
