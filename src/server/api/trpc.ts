import { initTRPC, TRPCError } from "@trpc/server";
import type { OpenApiMeta } from "trpc-to-openapi";
import { z } from "zod";
import { getEnv, type Env } from "~/env";
import { getDb, type Db } from "~/server/db";
import { AppError, toAppError } from "~/server/errors";
import { authenticateApiKey } from "~/server/services/agents/authenticate-api-key";
import { withIdempotency } from "~/server/services/idempotency/with-idempotency";
import { budgetFor, type ApiKeyRateLimits, type RateLimitClass } from "~/server/rate-limit/budgets";
import { clientAddressOf } from "~/server/rate-limit/client-address";
import { RateLimitRecorder } from "~/server/rate-limit/headers";
import { consumeBudget } from "~/server/rate-limit/limiter";
import { addLogContext, withLogContext, type LogContext } from "~/server/log-context";

export type Actor =
  | { kind: "agent"; agentId: string; apiKeyId: string; isAdmin: boolean; rateLimits: ApiKeyRateLimits }
  | { kind: "owner"; ownerId: string; isAdmin: boolean }
  | { kind: "anonymous" };

export interface Context {
  db: Db;
  env: Env;
  actor: Actor;
  /** Set when a credential was sent but is not valid: every procedure then answers 401. */
  authFailure?: string;
  requestId: string;
  /** The Idempotency-Key header, for operations that create things or move money. */
  idempotencyKey?: string;
  /** Who per-address budgets count against (src/server/rate-limit/client-address.ts). */
  clientAddress: string;
  /** Every budget this request's calls touched; the door turns it into RateLimit headers. */
  rateLimits: RateLimitRecorder;
}

function bearerToken(headers: Headers): string | null | undefined {
  const value = headers.get("authorization");
  if (!value) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return match ? match[1]! : null;
}

/**
 * One place turns a request's credentials into the acting identity (both doors use it).
 * `peerAddress` is the socket's remote address (absent when Next serves the door alone);
 * `rateLimits` collects the budgets the calls touch, for the door's response headers.
 */
export async function createContext(opts: { headers: Headers; requestId?: string; peerAddress?: string; rateLimits?: RateLimitRecorder }): Promise<Context> {
  const ctx = await resolveContext(opts);
  // Every line logged for the request from here on (its access line too) says who acted.
  const actor = ctx.actor;
  addLogContext(actor.kind === "agent" ? { actor: "agent", agentId: actor.agentId } : actor.kind === "owner" ? { actor: "owner", ownerId: actor.ownerId } : { actor: "anonymous" });
  return ctx;
}

async function resolveContext(opts: { headers: Headers; requestId?: string; peerAddress?: string; rateLimits?: RateLimitRecorder }): Promise<Context> {
  const env = getEnv();
  const db = getDb();
  const requestId = opts.requestId ?? crypto.randomUUID();
  const idempotencyKey = opts.headers.get("idempotency-key") ?? undefined;
  const clientAddress = clientAddressOf({ peer: opts.peerAddress, forwardedFor: opts.headers.get("x-forwarded-for"), trustedProxies: env.TRUST_PROXY });
  const base = { db, env, requestId, idempotencyKey, clientAddress, rateLimits: opts.rateLimits ?? new RateLimitRecorder() };
  const token = bearerToken(opts.headers);
  if (token === undefined) {
    // No API key: maybe a person signed in to the console (next-auth session cookie).
    const owner = await ownerFromSession(opts.headers, env.NEXTAUTH_SECRET);
    if (owner) {
      const row = await db.owner.findUnique({ where: { id: owner }, select: { id: true, isAdmin: true } });
      if (row) return { ...base, actor: { kind: "owner", ownerId: row.id, isAdmin: row.isAdmin } };
    }
    return { ...base, actor: { kind: "anonymous" } };
  }
  if (token === null) {
    return { ...base, actor: { kind: "anonymous" }, authFailure: "Authorization header must be 'Bearer <api_key>'" };
  }
  const key = await authenticateApiKey({ token });
  if (!key) return { ...base, actor: { kind: "anonymous" }, authFailure: "API key is not valid or has been revoked" };
  return {
    ...base,
    actor: { kind: "agent", agentId: key.agentId, apiKeyId: key.id, isAdmin: key.isAdmin, rateLimits: key.rateLimits },
  };
}

/** Which credentials a procedure takes; set by the builders below (the OpenAPI document reads it). */
export type Credentials = "agent" | "owner" | "agentOrOwner" | "admin";

export type ProcedureMeta = {
  successStatus?: number;
  statusFromOutput?: (output: unknown) => number | undefined;
  /** Statuses statusFromOutput may answer with, each with the success body: for the document. */
  outputStatuses?: Record<number, string>;
  credentials?: Credentials;
  /**
   * Which budget a call spends (src/server/rate-limit/budgets.ts). Declared here, with the
   * procedure, and nowhere else; left out, queries are `read` and mutations `write`.
   */
  rateLimit?: RateLimitClass;
};

const t = initTRPC
  .context<Context>()
  .meta<OpenApiMeta<ProcedureMeta>>()
  .create({
    errorFormatter({ shape, error }) {
      const app = toAppError(error, error.code);
      return {
        ...shape,
        message: app.message,
        data: { code: shape.data.code, httpStatus: app.httpStatus, path: shape.data.path, appCode: app.code, details: app.details ?? null },
        error: { code: app.code, message: app.message, details: app.details ?? null },
      };
    },
  });

export const createCallerFactory = t.createCallerFactory;
export const router = t.router;

function refuse(error: AppError): never {
  throw new TRPCError({ code: error.trpcCode, message: error.message, cause: error });
}

/**
 * Runs first on every procedure, for both doors and for each call of a tRPC batch: the call is
 * counted against its budget (429 RATE_LIMITED when spent, before anything else runs, so neither
 * a bad credential nor bad input is free); a credential that was sent but is not valid is a 401
 * whatever the procedure; AppErrors thrown by services become TRPCErrors with the code from the
 * one error table. (One middleware rather than three: each level of tRPC's chain costs a few
 * object copies per call, and this runs on every request.)
 */
const appErrorsAndCredentials = t.middleware(async ({ ctx, next, meta, type, getRawInput }) => {
  const rateLimitClass = meta?.rateLimit ?? (type === "query" ? "read" : "write");
  const actor = ctx.authFailure ? ({ kind: "anonymous" } as const) : ctx.actor;
  const outcome = await consumeBudget(budgetFor({ env: ctx.env, actor, clientAddress: ctx.clientAddress, rateLimitClass }), ctx.env);
  if (outcome) {
    ctx.rateLimits.record(outcome);
    if (outcome.limited) {
      refuse(
        new AppError("RATE_LIMITED", `Rate limit '${outcome.policy}' of ${outcome.limit} calls per ${outcome.windowSeconds} s is spent; retry in ${outcome.resetSeconds} s`, {
          policy: outcome.policy,
          limit: outcome.limit,
          window_seconds: outcome.windowSeconds,
          retry_after_seconds: outcome.resetSeconds,
        }),
      );
    }
  }
  if (ctx.authFailure) refuse(new AppError("UNAUTHORIZED", ctx.authFailure));
  // The job or submission the call names labels every line it logs, in a context of its own (a
  // tRPC batch may name several), and the request's access line (the last call's, in a batch).
  const subject = subjectOf(await getRawInput().catch(() => undefined));
  if (subject) addLogContext(subject);
  const result = await (subject ? withLogContext(subject, () => next()) : next());
  if (!result.ok && result.error.cause instanceof AppError) refuse(result.error.cause);
  return result;
});

const LOGGED_ID = /^[0-9a-fA-F-]{36}$/;

function subjectOf(input: unknown): LogContext | undefined {
  if (!input || typeof input !== "object") return undefined;
  const { task_id: jobId, submission_id: submissionId } = input as { task_id?: unknown; submission_id?: unknown };
  const subject: LogContext = {};
  if (typeof jobId === "string" && LOGGED_ID.test(jobId)) subject.jobId = jobId;
  if (typeof submissionId === "string" && LOGGED_ID.test(submissionId)) subject.submissionId = submissionId;
  return subject.jobId || subject.submissionId ? subject : undefined;
}

/**
 * tRPC validates inputs and outputs with a schema's parseAsync. In zod 4 that path skips the
 * compiled fast path for objects: checking a page of 50 jobs took 0.48 ms async against 0.07 ms
 * with parse (docs/performance.md). Every schema here is synchronous, so validate with parse,
 * falling back to parseAsync should a schema ever need it. The schema object stays the same, so
 * trpc-to-openapi still documents and coerces from it.
 */
function validateSynchronously<S>(schema: S): S {
  if (schema instanceof z.ZodType && !Object.hasOwn(schema, "parseAsync")) {
    const parseAsync = schema.parseAsync.bind(schema);
    Object.defineProperty(schema, "parseAsync", {
      value: async (data: unknown, params?: Parameters<typeof schema.parse>[1]) => {
        try {
          return schema.parse(data, params);
        } catch (err) {
          if (err instanceof z.core.$ZodAsyncError) return parseAsync(data, params);
          throw err;
        }
      },
    });
  }
  return schema;
}

/** A procedure builder whose every .input() and .output() schema validates synchronously. */
function withSynchronousValidation<B extends object>(builder: B): B {
  return new Proxy(builder, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== "function") return value;
      const method = value as (...args: unknown[]) => unknown;
      if (prop === "input" || prop === "output") return (schema: unknown) => withSynchronousValidation(method.call(target, validateSynchronously(schema)) as object);
      if (prop === "use" || prop === "meta" || prop === "concat") return (...args: unknown[]) => withSynchronousValidation(method.apply(target, args) as object);
      return method.bind(target);
    },
  });
}

export const publicProcedure = withSynchronousValidation(t.procedure.use(appErrorsAndCredentials));

export const agentProcedure = publicProcedure.use(({ ctx, next }) => {
  if (ctx.actor.kind !== "agent") {
    throw new AppError("UNAUTHORIZED", "This operation needs an API key: send 'Authorization: Bearer <api_key>'");
  }
  return next({ ctx: { ...ctx, actor: ctx.actor } });
}).meta({ credentials: "agent" });

export const ownerProcedure = publicProcedure.use(({ ctx, next }) => {
  if (ctx.actor.kind !== "owner") throw new AppError("UNAUTHORIZED", "Sign in to the console to do this");
  return next({ ctx: { ...ctx, actor: ctx.actor } });
}).meta({ credentials: "owner" });

/** An agent's API key or a signed-in owner: for managing agents (keys, profile, deactivation). */
export const agentOrOwnerProcedure = publicProcedure.use(({ ctx, next }) => {
  if (ctx.actor.kind === "anonymous") {
    throw new AppError("UNAUTHORIZED", "Send 'Authorization: Bearer <api_key>' or sign in to the console");
  }
  return next({ ctx: { ...ctx, actor: ctx.actor } });
}).meta({ credentials: "agentOrOwner" });

/**
 * Admins are agents and owners whose row has is_admin, which only `npm run admin` on the server
 * sets (services/admins/manage-admins.ts): never an id or an email someone could register first.
 */
export const adminProcedure = publicProcedure.use(({ ctx, next }) => {
  if (ctx.actor.kind === "anonymous") throw new AppError("UNAUTHORIZED", "Send an API key or sign in to the console");
  if (!ctx.actor.isAdmin) throw new AppError("FORBIDDEN", "Only an admin may do this");
  return next({ ctx: { ...ctx, actor: ctx.actor } });
}).meta({ credentials: "admin" });

export type AgentActor = Extract<Actor, { kind: "agent" }>;
export type OwnerActor = Extract<Actor, { kind: "owner" }>;

async function ownerFromSession(headers: Headers, secret: string): Promise<string | undefined> {
  const cookie = headers.get("cookie");
  if (!cookie || !cookie.includes("next-auth.session-token")) return undefined;
  const { getToken } = await import("next-auth/jwt");
  const cookies: Record<string, string> = {};
  for (const part of cookie.split(/;\s*/)) {
    const i = part.indexOf("=");
    if (i <= 0) continue;
    try {
      cookies[decodeURIComponent(part.slice(0, i))] = decodeURIComponent(part.slice(i + 1));
    } catch {
      // A malformed cookie is just not a session.
    }
  }
  // Behind TLS next-auth names the cookie __Secure-next-auth.session-token.
  const secureCookie = "__Secure-next-auth.session-token" in cookies;
  const token = await getToken({ req: { headers: Object.fromEntries(headers), cookies } as never, secret, secureCookie }).catch(() => null);
  return typeof token?.ownerId === "string" ? token.ownerId : undefined;
}

/** Runs a mutation once per Idempotency-Key (see services/idempotency/with-idempotency.ts). */
export function idempotently<T>(ctx: Context & { actor: AgentActor }, operation: string, input: unknown, run: () => Promise<T>): Promise<T> {
  return withIdempotency({ db: ctx.db, agentId: ctx.actor.agentId, key: ctx.idempotencyKey, operation, input, run });
}

/** When a body names the acting agent (seed compatibility), it must be the key's agent. */
export function assertActsAs(actor: AgentActor, field: string, claimed: string | undefined): void {
  if (claimed !== undefined && claimed !== actor.agentId) {
    throw new AppError("FORBIDDEN", `${field} '${claimed}' is not the agent this API key belongs to`, { field });
  }
}
