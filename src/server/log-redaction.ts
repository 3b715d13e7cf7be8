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

export function isSecretFieldName(name: string): boolean {
  const key = name.toLowerCase().replace(/[-_]/g, "");
  return SECRET_FIELD_SUFFIXES.some((suffix) => key.endsWith(suffix));
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

/** Secrets this process was configured with: any text that contains one loses it. */
const CONFIGURED_SECRET_VARIABLES = ["OPS_PRIVATE_KEY", "FAUCET_PRIVATE_KEY", "NEXTAUTH_SECRET", "ORACLE_API_KEY", "INNGEST_EVENT_KEY", "INNGEST_SIGNING_KEY"];

let configuredSecrets: { source: string; values: string[] } | undefined;

function secretsFromEnvironment(): string[] {
  // Read on each call but cached per set of values: tests and the start script change process.env.
  const current = CONFIGURED_SECRET_VARIABLES.map((name) => process.env[name] ?? "").join("\n");
  if (configuredSecrets?.source !== current) {
    const values = new Set<string>();
    for (const raw of current.split("\n")) {
      const value = raw.trim();
      if (value.length < 8) continue;
      values.add(value);
      // A hex key also appears without its 0x, and in either case.
      if (/^0x[0-9a-fA-F]+$/.test(value)) {
        values.add(value.slice(2).toLowerCase());
        values.add(value.slice(2).toUpperCase());
      }
    }
    configuredSecrets = { source: current, values: [...values] };
  }
  return configuredSecrets.values;
}

/** `text` with every secret it carries replaced by [redacted]. */
export function redactText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of TEXT_PATTERNS) out = out.replace(pattern, replacement);
  for (const secret of secretsFromEnvironment()) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    else if (out.toLowerCase().includes(secret.toLowerCase())) out = out.replace(new RegExp(secret.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gi"), REDACTED);
  }
  return out;
}

/**
 * A copy of a log line's fields (or any JSON-like value) with secret-named fields dropped and
 * every string redacted; Errors become their message. Deep values are followed a few levels.
 */
export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return redactText(value);
  if (typeof value === "bigint") return value.toString();
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Error) return redactText(String(value));
  if (value instanceof Date) return value;
  if (depth >= 6) return "[too deep]";
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = isSecretFieldName(key) ? REDACTED : redactValue(item, depth + 1);
  return out;
}
