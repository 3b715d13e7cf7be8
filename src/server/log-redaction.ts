// What never reaches a log line (or an answer that repeats an error, like the dead-letter list):
// API keys, Authorization headers, session cookies, passwords, webhook secrets, signed
// transaction bytes and private keys. Two nets, because secrets arrive two ways: as a field with
// a telling name (`password`, `signedTx`), and inside text nobody wrote for the log (an error
// message that quotes a request, an RPC error that echoes eth_sendRawTransaction's bytes).

export const REDACTED = "[redacted]";

// Field names, compared lower-case without '_' and '-': a field ending in one of these is dropped.
const SECRET_FIELD_SUFFIXES = [
  "password",
  "passwordhash",
  "secret",
  "apikey",
  "privatekey",
  "token",
  "authorization",
  "cookie",
  "signedtx",
  "rawtx",
  "serializedtransaction",
  "signedtransaction",
  "rawtransaction",
  "mnemonic",
  "signature",
  "keyhash",
];

// Field names repeat from line to line: each is judged once (up to a bound).
const judgedFieldNames = new Map<string, boolean>();

export function isSecretFieldName(name: string): boolean {
  let secret = judgedFieldNames.get(name);
  if (secret === undefined) {
    const key = name.toLowerCase().replace(/[-_]/g, "");
    secret = SECRET_FIELD_SUFFIXES.some((suffix) => key.endsWith(suffix));
    if (judgedFieldNames.size < 2_000) judgedFieldNames.set(name, secret);
  }
  return secret;
}

const TEXT_PATTERNS: [RegExp, string][] = [
  // API keys (am_live_…) and webhook secrets (whsec_…), wherever they appear.
  [/\bam_live_[A-Za-z0-9_-]+/g, `am_live_${REDACTED}`],
  [/\bwhsec_[A-Za-z0-9+/=_-]+/g, `whsec_${REDACTED}`],
  // An Authorization header's credential, however it was quoted.
  [/\b(Bearer|Basic)\s+[^\s"',;]+/gi, `$1 ${REDACTED}`],
  // next-auth's cookies (session token, CSRF token) as a Cookie header writes them.
  [/((?:__Secure-|__Host-)?(?:next-auth|authjs)\.[\w.-]+)=[^;\s"',]+/g, `$1=${REDACTED}`],
  // A password inside a connection URL (postgres://user:password@host).
  [/\b([a-z][a-z0-9+.-]*:\/\/[^:/\s@"']+):[^@\s/"']+@/gi, `$1:${REDACTED}@`],
  // Signed transactions (and signatures, calldata): hex of 65 bytes or more. Hashes (32 bytes) and
  // addresses (20) stay readable.
  [/0x[0-9a-fA-F]{130,}/g, `0x${REDACTED}`],
];

// Cheap screen run on every text first: the patterns above only where one could match.
const MAY_MATCH_A_PATTERN = /am_live_|whsec_|bearer\s|basic\s|next-auth\.|authjs\.|:\/\/[^\s/@]+:[^\s@/]+@|0x[0-9a-fA-F]{130}/i;

/** Secrets this process was configured with: any text that contains one loses it. */
const CONFIGURED_SECRET_VARIABLES = ["OPS_PRIVATE_KEY", "FAUCET_PRIVATE_KEY", "NEXTAUTH_SECRET", "ORACLE_API_KEY", "INNGEST_EVENT_KEY", "INNGEST_SIGNING_KEY"];

let configuredSecrets: { source: string; values: string[] } | undefined;

function secretsFromEnvironment(): string[] {
  // Read on each call but worked out once per set of values: tests and the start script change process.env.
  const current = CONFIGURED_SECRET_VARIABLES.map((name) => process.env[name] ?? "").join("\n");
  if (configuredSecrets?.source !== current) {
    const values = new Set<string>();
    for (const raw of current.split("\n")) {
      const value = raw.trim();
      if (value.length < 8) continue;
      values.add(value);
      // A hex key also appears without its 0x, in lower or upper case.
      const hex = /^0x([0-9a-fA-F]+)$/.exec(value)?.[1];
      for (const variant of hex ? [hex, `0x${hex}`] : []) {
        values.add(variant.toLowerCase());
        values.add(variant.toUpperCase().replace(/^0X/, "0x"));
      }
    }
    // Longest first, so a key is replaced whole before its 0x-less part could be.
    configuredSecrets = { source: current, values: [...values].sort((a, b) => b.length - a.length) };
  }
  return configuredSecrets.values;
}

/** `text` with every secret it carries replaced by [redacted]. */
export function redactText(text: string, secrets: string[] = secretsFromEnvironment()): string {
  if (text.length < 8) return text;
  let out = text;
  if (MAY_MATCH_A_PATTERN.test(out)) for (const [pattern, replacement] of TEXT_PATTERNS) out = out.replace(pattern, replacement);
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

/**
 * A copy of a log line's fields (or any JSON-like value) with secret-named fields dropped and
 * every string redacted; Errors become their message. Deep values are followed a few levels.
 */
export function redactValue(value: unknown): unknown {
  // process.env is slow to read: the configured secrets are looked up once per value, not per string.
  return redactWith(value, secretsFromEnvironment(), 0);
}

function redactWith(value: unknown, secrets: string[], depth: number): unknown {
  if (typeof value === "string") return redactText(value, secrets);
  if (typeof value === "bigint") return value.toString();
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Error) return redactText(String(value), secrets);
  if (value instanceof Date) return value;
  if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return redactWith((value as { toJSON(): unknown }).toJSON(), secrets, depth + 1);
  if (depth >= 6) return "[too deep]";
  if (Array.isArray(value)) return value.map((item) => redactWith(item, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = isSecretFieldName(key) ? REDACTED : redactWith(item, secrets, depth + 1);
  return out;
}
