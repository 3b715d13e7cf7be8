import { randomBytes } from "node:crypto";
import { z } from "zod";

// Every setting the app reads, validated once. Absent parts fall back to embedded defaults
// (started by scripts/start.ts), which then fills in the variables below before the app loads.

const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === "" ? undefined : v))
  .optional();

const intFromString = (fallback: number, opts: { min: number; max?: number }) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < opts.min || (opts.max !== undefined && n > opts.max)) {
        ctx.addIssue({
          code: "custom",
          message: `must be an integer${opts.max !== undefined ? ` between ${opts.min} and ${opts.max}` : ` ≥ ${opts.min}`}`,
        });
        return z.NEVER;
      }
      return n;
    });

const hexAddress = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x-prefixed 20-byte hex address");
const hexPrivateKey = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "must be a 0x-prefixed 32-byte hex private key");
const usdcDecimal = z.string().regex(/^\d+(\.\d{1,6})?$/, "must be a USDC amount like 1 or 0.50");

const ZEnv = z
  .object({
    NODE_ENV: z.enum(["development", "production", "test"]).default("production"),
    PORT: intFromString(3000, { min: 0, max: 65535 }),
    DATA_DIR: z.string().default(".data"),
    DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgresql:// URL"),
    // Connections per process: Prisma's pool, and the plain pg pool of the hot paths (src/server/db-sql.ts).
    DATABASE_POOL_SIZE: intFromString(20, { min: 1, max: 1000 }),
    DATABASE_SQL_POOL_SIZE: intFromString(20, { min: 1, max: 1000 }),

    CHAIN_RPC_URL: z.string().url(),
    CHAIN_ID: intFromString(31337, { min: 1 }),
    USDC_ADDRESS: hexAddress,
    OPS_PRIVATE_KEY: hexPrivateKey,
    TREASURY_ADDRESS: hexAddress,
    CONFIRMATIONS: intFromString(12, { min: 0, max: 1000 }),
    // An outgoing transfer not final after this long is reported stuck (/health, solvency); one
    // still unmined at the head of the operations wallet's queue is re-priced.
    TRANSFER_STUCK_AFTER_SECONDS: intFromString(300, { min: 5, max: 86_400 }),
    // /health is degraded while more than this many transfers are stuck (see above), or more than
    // this many dead letters (background work that used all its attempts) wait for an admin.
    HEALTH_STUCK_TRANSFER_THRESHOLD: intFromString(0, { min: 0, max: 1_000_000 }),
    HEALTH_DEAD_LETTER_THRESHOLD: intFromString(0, { min: 0, max: 1_000_000 }),
    // A transfer the chain reverted is sent again automatically this many times, after 1, 5, 30,
    // 120 and 360 × TRANSFER_RETRY_BASE_SECONDS; then it waits for an admin.
    TRANSFER_AUTO_RETRIES: intFromString(5, { min: 0, max: 20 }),
    TRANSFER_RETRY_BASE_SECONDS: intFromString(60, { min: 1, max: 86_400 }),

    // Reconciliation, books against chain (services/reconciliation/). The scan of the operations
    // wallet's USDC Transfer logs starts at RECONCILIATION_START_BLOCK (the starting balance is what
    // the wallet held at the end of the block before it) and asks for this many blocks per request.
    RECONCILIATION_START_BLOCK: intFromString(0, { min: 0 }),
    RECONCILIATION_LOG_CHUNK_BLOCKS: intFromString(10_000, { min: 1, max: 1_000_000 }),
    // How long USDC that arrived may wait for the POST /fund that claims it before it is drift.
    RECONCILIATION_DEPOSIT_GRACE_SECONDS: intFromString(3600, { min: 0, max: 30 * 86_400 }),
    // Senders whose USDC into the operations wallet is a top-up, not a stray deposit (mints and
    // TREASURY_ADDRESS always are): comma-separated addresses.
    RECONCILIATION_TOP_UP_ADDRESSES: z
      .string()
      .optional()
      .transform((v) => (v ?? "").split(",").map((s) => s.trim()).filter(Boolean))
      .pipe(z.array(hexAddress)),

    MIN_TASK_AMOUNT: usdcDecimal.default("1"),
    PLATFORM_FEE_BPS: intFromString(2000, { min: 0, max: 5000 }),

    ORACLE_BASE_URL: optionalString.pipe(z.string().url().optional()),
    ORACLE_MODEL: optionalString,
    ORACLE_API_KEY: optionalString,
    ORACLE_TIMEOUT_SECONDS: intFromString(120, { min: 1, max: 3600 }),
    // Hard limit on one JSON Schema check (compiling a buyer's output_schema, or checking a
    // delivery against it) in its worker thread; past it the worker is terminated.
    SCHEMA_CHECK_TIMEOUT_MS: intFromString(3000, { min: 100, max: 60_000 }),

    // How long one "second" of the webhook retry schedule (0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
    // 10 h) lasts, in milliseconds: 1000 in production; tests shorten it.
    WEBHOOK_RETRY_UNIT_MS: intFromString(1000, { min: 1, max: 1000 }),
    // A comment line on every open GET /events/stream this often, so proxies keep it open.
    EVENT_STREAM_HEARTBEAT_SECONDS: intFromString(15, { min: 1, max: 300 }),

    // How long after a job's money settles (resolved, or refund confirmed) a party may dispute it.
    DISPUTE_WINDOW_HOURS: intFromString(72, { min: 1 }),
    // Deadlines for deliveries still being judged (services/submissions/judging-deadline.ts): one
    // waiting for the model when its job expires gets this long after the expiry; one waiting for
    // manual review this long after it was made. Past either it goes to the admin review queue; the
    // job's automatic refund waits for its verdict.
    EXPIRY_JUDGING_GRACE_MINUTES: intFromString(30, { min: 0, max: 10_080 }),
    REVIEW_DEADLINE_HOURS: intFromString(72, { min: 1, max: 8_760 }),

    // No longer read (issue 7): admins are granted by `npm run admin` on the server. Declared only so
    // that a deployment still setting them stops at start-up instead of silently losing its admins.
    ADMIN_AGENT_IDS: optionalString,
    ADMIN_OWNER_EMAILS: optionalString,

    // Local chains only: the key that mints test USDC for POST /api/v1/dev/faucet.
    FAUCET_PRIVATE_KEY: optionalString.pipe(hexPrivateKey.optional()),

    // Signs console sessions (next-auth). Required outside dev mode; scripts/start.ts keeps one in
    // $DATA_DIR/nextauth-secret for dev mode so sessions survive restarts.
    NEXTAUTH_SECRET: optionalString.pipe(z.string().min(16, "must be at least 16 characters").optional()),
    // The console's public URL (read by next-auth too); also the site named in wallet-proof messages.
    NEXTAUTH_URL: optionalString.pipe(z.string().url().optional()),

    // Rate limits (src/server/rate-limit/): fixed windows per API key, per console owner and, for
    // requests without credentials, per client address. Per-key overrides live on api_keys.
    RATE_LIMIT_STORE: optionalString.pipe(z.enum(["postgres", "redis", "memory", "off"]).optional()),
    REDIS_URL: optionalString.pipe(z.string().regex(/^rediss?:\/\//, "must be a redis:// or rediss:// URL").optional()),
    RATE_LIMIT_KEY_PREFIX: z.string().trim().regex(/^[A-Za-z0-9_.:-]{1,40}$/, "must be 1–40 letters, digits, '_', '.', ':' or '-'").default("rl"),
    RATE_LIMIT_READS_PER_MINUTE: intFromString(60, { min: 1, max: 1_000_000_000 }),
    RATE_LIMIT_WRITES_PER_MINUTE: intFromString(20, { min: 1, max: 1_000_000_000 }),
    RATE_LIMIT_SUBMISSIONS_PER_MINUTE: intFromString(10, { min: 1, max: 1_000_000_000 }),
    RATE_LIMIT_OWNER_READS_PER_MINUTE: intFromString(120, { min: 1, max: 1_000_000_000 }),
    RATE_LIMIT_OWNER_WRITES_PER_MINUTE: intFromString(30, { min: 1, max: 1_000_000_000 }),
    RATE_LIMIT_ADDRESS_PER_MINUTE: intFromString(60, { min: 1, max: 1_000_000_000 }),
    RATE_LIMIT_SIGNUPS_PER_HOUR: intFromString(20, { min: 1, max: 1_000_000_000 }),
    RATE_LIMIT_FAUCET_PER_HOUR: intFromString(20, { min: 1, max: 1_000_000_000 }),
    // How many proxies in front of the app append to X-Forwarded-For. 0: the header is ignored and
    // the client address is the socket's (anyone can write X-Forwarded-For).
    TRUST_PROXY: intFromString(0, { min: 0, max: 10 }),

    INNGEST_EVENT_KEY: optionalString,
    INNGEST_SIGNING_KEY: optionalString,
    INNGEST_BASE_URL: optionalString,

    // Set by scripts/start.ts: which parts it started itself ("postgres,chain").
    EMBEDDED_PARTS: z
      .string()
      .optional()
      .transform((v) => (v ?? "").split(",").map((s) => s.trim()).filter(Boolean)),
    DEV_MODE: z
      .string()
      .optional()
      .transform((v) => v === "true" || v === "1"),
    LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  })
  .superRefine((e, ctx) => {
    if (e.RATE_LIMIT_STORE === "redis" && !e.REDIS_URL) {
      ctx.addIssue({ code: "custom", path: ["RATE_LIMIT_STORE"], message: "is redis but REDIS_URL is not set" });
    }
    if (!e.NEXTAUTH_SECRET && !e.DEV_MODE && e.EMBEDDED_PARTS.length === 0 && e.NODE_ENV === "production") {
      ctx.addIssue({ code: "custom", path: ["NEXTAUTH_SECRET"], message: "is required outside dev mode (it signs console sessions)" });
    }
    // Admin rights from a list anyone could match by signing up or registering first: refused.
    if (e.ADMIN_OWNER_EMAILS) {
      ctx.addIssue({
        code: "custom",
        path: ["ADMIN_OWNER_EMAILS"],
        message: "is no longer read: unset it and make each admin on the server with `npm run admin -- grant-owner <email>` (docs/operations.md)",
      });
    }
    if (e.ADMIN_AGENT_IDS) {
      ctx.addIssue({
        code: "custom",
        path: ["ADMIN_AGENT_IDS"],
        message: "is no longer read: unset it and make each admin agent on the server with `npm run admin -- grant-agent <agent_id>` (docs/operations.md)",
      });
    }
  })
  .transform(({ ADMIN_AGENT_IDS: _agents, ADMIN_OWNER_EMAILS: _owners, ...e }) => ({
    ...e,
    devMode: e.DEV_MODE || e.EMBEDDED_PARTS.length > 0,
    // Dev mode without a configured secret: a random one per process (sessions end on restart);
    // a fixed fallback would let anyone forge a console session.
    NEXTAUTH_SECRET: e.NEXTAUTH_SECRET ?? randomBytes(32).toString("base64url"),
    chainEmbedded: e.EMBEDDED_PARTS.includes("chain"),
    oracleMode: (e.ORACLE_BASE_URL && e.ORACLE_MODEL ? "llm" : "manual") as "llm" | "manual",
    rateLimitStore: e.RATE_LIMIT_STORE ?? (e.REDIS_URL ? "redis" : "postgres"),
    inngestEnabled: Boolean(e.INNGEST_EVENT_KEY && e.INNGEST_SIGNING_KEY) || Boolean(e.INNGEST_BASE_URL),
  }));

export type Env = z.output<typeof ZEnv>;

export class EnvError extends Error {}

export function parseEnv(source: Record<string, string | undefined>): Env {
  const result = ZEnv.safeParse(source);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const name = i.path.join(".") || "(environment)";
      const message = i.code === "invalid_type" && source[name] === undefined ? "is required" : i.message;
      return `  ${name} ${message}`;
    });
    throw new EnvError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  return result.data;
}

const globalForEnv = globalThis as unknown as { __agentMarketEnv?: Env };

/** The validated configuration, read from process.env on first use. */
export function getEnv(): Env {
  globalForEnv.__agentMarketEnv ??= parseEnv(process.env);
  return globalForEnv.__agentMarketEnv;
}

/** Tests and the start script change process.env, then call this so the next read sees it. */
export function resetEnv(): void {
  globalForEnv.__agentMarketEnv = undefined;
}
