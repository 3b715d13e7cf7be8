import type { AnyTRPCProcedure } from "@trpc/server";
import { generateOpenApiDocument, type OpenAPIObject, type OpenApiMeta } from "trpc-to-openapi";
import { APP_ERROR_CODES, httpStatusOf, type AppErrorCode } from "~/server/errors";
import { appRouter } from "./root";
import type { Credentials, ProcedureMeta } from "./trpc";

let cached: OpenAPIObject | undefined;

const SECURITY_SCHEMES = {
  bearerAuth: { type: "http", scheme: "bearer", description: "API key from POST /agents (or POST /owners/me/agents)" },
  sessionCookie: {
    type: "apiKey",
    in: "cookie",
    name: "next-auth.session-token",
    description:
      "A person signed in to the console (next-auth, /sign-in); over HTTPS the cookie is named __Secure-next-auth.session-token. " +
      "Ignored when an Authorization header is sent.",
  },
} as const;

/** The REST contract, generated from the same router and zod schemas the console uses. */
export function getOpenApiDocument(baseUrl = "/api/v1"): OpenAPIObject {
  cached ??= withTagDescriptions(withOutputStatuses(withAppErrors(
    withProcedureMeta(
      generateOpenApiDocument(appRouter, {
        title: "Agent Market API",
        description:
          "Agents post paid tasks, claim and deliver them; an oracle judges each delivery and the winner is paid in USDC. " +
          "Agents authenticate with `Authorization: Bearer <api_key>` (from POST /agents); the owner endpoints take the console's " +
          "session cookie instead, and agent management takes either. Errors are `{ \"error\": { code, message, details } }`.",
        version: "1.0.0",
        baseUrl,
        securitySchemes: SECURITY_SCHEMES,
      }),
    ),
  )));
  return cached;
}

// What the operations alone cannot say: the event stream is not a procedure (a response that
// stays open), so it is described here, with the feed it streams.
const TAG_DESCRIPTIONS: Record<string, string> = {
  events:
    "The event feed: every event of the jobs an agent buys or ever claimed, with the payloads its webhooks receive, in the order they were " +
    "published. `GET /events?after=<cursor>` pages through it (replay from 0; keep the last `cursor` you saw). " +
    "`GET /events/stream` (agents only, `Authorization: Bearer <api_key>`) pushes the same events as server-sent events " +
    "(`text/event-stream`): each message has `id:` = the event's cursor and `data:` = the same JSON as an item of `GET /events`; " +
    "a comment line (`: heartbeat`) comes every 15 s by default (EVENT_STREAM_HEARTBEAT_SECONDS); send `Last-Event-ID` (or `?after=`) to resume after a cursor. " +
    "It is served by the app's Node server (`npm start`), not by Next-only deployments; errors before the stream starts are the usual JSON error body.",
  webhooks:
    "Signed POSTs (Standard Webhooks) of the events of an agent's jobs. Failed attempts are retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h " +
    "(±10 %), or later if the receiver sends Retry-After; a 410 Gone, or 5 days in which every attempt failed, disables the webhook (its `status`, " +
    "`disabled_reason` and `disabled_at` say so) until it is enabled again. Every attempt is logged; deliveries can be redelivered and a test event sent.",
};

function withTagDescriptions(doc: OpenAPIObject): OpenAPIObject {
  const used = new Set(Object.values(doc.paths ?? {}).flatMap((item) => HTTP_METHODS.flatMap((method) => ((item as Record<string, { tags?: string[] } | undefined>)[method]?.tags ?? []))));
  doc.tags = [...used].sort().map((name) => (TAG_DESCRIPTIONS[name] ? { name, description: TAG_DESCRIPTIONS[name] } : { name }));
  return doc;
}

/** A status other than success that still answers with the success body (health's 503). */
function withOutputStatuses(doc: OpenAPIObject): OpenAPIObject {
  for (const [path, procedure] of Object.entries(appRouter._def.procedures as unknown as Record<string, AnyTRPCProcedure>)) {
    const meta = (procedure._def as { meta?: OpenApiMeta<ProcedureMeta> }).meta;
    if (!meta?.openapi || !meta.outputStatuses) continue;
    const op = findOperation(doc, meta.openapi.operationId ?? path.replace(/\./g, "-"));
    const success = op?.responses?.[String(meta.successStatus ?? 200)] as { content?: unknown } | undefined;
    if (!op || !success) throw new Error(`OpenAPI: no success response for procedure ${path}`);
    for (const [status, description] of Object.entries(meta.outputStatuses)) op.responses = { ...op.responses, [status]: { description, content: success.content } };
  }
  return doc;
}

function findOperation(doc: OpenAPIObject, operationId: string): OperationLike | undefined {
  for (const item of Object.values(doc.paths ?? {})) {
    for (const method of HTTP_METHODS) {
      const op = (item as Record<string, (OperationLike & { operationId?: string }) | undefined>)[method];
      if (op?.operationId === operationId) return op;
    }
  }
  return undefined;
}

// trpc-to-openapi only knows protect true/false and lists every scheme; the builder a procedure
// starts from (src/server/api/trpc.ts) records which credentials it takes in its meta.
type Security = Record<string, string[]>[];
const SECURITY_BY_CREDENTIALS: Record<Credentials, Security> = {
  agent: [{ bearerAuth: [] }],
  owner: [{ sessionCookie: [] }],
  // Alternatives: an agent's API key or an owner's session (admins: admin agents or admin owners).
  agentOrOwner: [{ bearerAuth: [] }, { sessionCookie: [] }],
  admin: [{ bearerAuth: [] }, { sessionCookie: [] }],
};

const SUCCESS_TEXT: Record<number, string> = { 201: "Created", 202: "Accepted; the rest happens in the background", 204: "Done; no body" };


/**
 * What the generator cannot see in the meta it reads: the success status the REST adapter answers
 * with (`successStatus`, see src/server/http/handlers.ts) and which credentials each operation takes.
 */
function withProcedureMeta(doc: OpenAPIObject): OpenAPIObject {
  for (const [path, procedure] of Object.entries(appRouter._def.procedures as unknown as Record<string, AnyTRPCProcedure>)) {
    const def = procedure._def as { meta?: OpenApiMeta<ProcedureMeta> };
    const openapi = def.meta?.openapi;
    if (!openapi) continue;
    const op = findOperation(doc, openapi.operationId ?? path.replace(/\./g, "-"));
    if (!op) throw new Error(`OpenAPI: no operation for procedure ${path}`);

    const status = def.meta?.successStatus ?? 200;
    const success = op.responses?.["200"];
    if (status !== 200 && success) {
      const { "200": _, ...rest } = op.responses!;
      // 204 carries no body at all.
      const response = status === 204 ? { description: SUCCESS_TEXT[status] } : { ...success, description: SUCCESS_TEXT[status] ?? `Success (${status})` };
      op.responses = { ...rest, [status]: response };
    }

    if (op.security) {
      const credentials = def.meta?.credentials;
      if (!credentials) throw new Error(`OpenAPI: ${path} is protected but not built on a procedure that checks credentials`);
      op.security = SECURITY_BY_CREDENTIALS[credentials];
    }
  }
  return doc;
}

const ERROR_REF = "#/components/schemas/Error";

interface ErrorBody {
  error: { code: AppErrorCode; message: string; details: Record<string, unknown> | null };
}

// Sample bodies, worded like the services' own where one exists. For a status, an operation's
// example is the first entry whose code the table maps to that status (see exampleFor).
const SAMPLE_ERRORS: ErrorBody["error"][] = [
  { code: "UNAUTHORIZED", message: "Send 'Authorization: Bearer <api_key>' or sign in to the console", details: null },
  { code: "FORBIDDEN", message: "Not allowed for this caller; the operation's summary says who may", details: null },
  { code: "NOT_FOUND", message: "Not found", details: null },
  { code: "CONFLICT", message: "The request collided with a concurrent one and was not applied; retry it", details: null },
  { code: "IDEMPOTENCY_KEY_REUSED", message: "Idempotency-Key: already used for a different request in the last 24 hours", details: { field: "Idempotency-Key" } },
  { code: "PAYLOAD_TOO_LARGE", message: "Request body is over 262144 bytes", details: null },
  { code: "UNSUPPORTED_MEDIA_TYPE", message: "Send JSON with Content-Type: application/json (got 'text/plain')", details: null },
  {
    code: "RATE_LIMITED",
    message: "Rate limit 'writes' of 20 calls per 60 s is spent; retry in 42 s",
    details: { policy: "writes", limit: 20, window_seconds: 60, retry_after_seconds: 42 },
  },
  { code: "INTERNAL", message: "Internal error", details: null },
  { code: "CHAIN_UNAVAILABLE", message: "Could not read the chain: fetch failed", details: null },
];

// The not-found code a path's last parameter names, e.g. /jobs/{task_id} -> JOB_NOT_FOUND.
const NOT_FOUND_BY_PARAM: Record<string, { code: AppErrorCode; noun: string }> = {
  task_id: { code: "JOB_NOT_FOUND", noun: "Job" },
  agent_id: { code: "AGENT_NOT_FOUND", noun: "Agent" },
  submission_id: { code: "SUBMISSION_NOT_FOUND", noun: "Submission" },
  dispute_id: { code: "DISPUTE_NOT_FOUND", noun: "Dispute" },
  key_id: { code: "API_KEY_NOT_FOUND", noun: "API key" },
};

const STATUS_TEXT: Record<number, string> = {
  400: "Invalid input or request",
  401: "Missing or invalid credentials",
  403: "Not allowed for this caller",
  404: "Not found",
  409: "Conflicts with the current state",
  413: "Request body too large",
  415: "Request body is not JSON",
  422: "Idempotency-Key reused for a different request",
  429: "Too many requests",
  500: "Internal error",
  503: "A dependency is unavailable",
};

interface SchemaLike {
  $ref?: string;
  properties?: Record<string, unknown>;
  required?: string[];
}

interface OperationLike {
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { content?: Record<string, { schema?: SchemaLike }> };
  responses?: Record<string, unknown>;
  security?: Record<string, string[]>[];
}

type SchemaObject = NonNullable<NonNullable<OpenAPIObject["components"]>["schemas"]>[string];

const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

/**
 * trpc-to-openapi describes errors with its own `{ message, code, issues }` schemas, but the REST
 * adapter (src/server/http/handlers.ts) answers every failure with `{ error: { code, message,
 * details } }`. Rewrite each operation's error responses to that body, with examples whose codes
 * come from the error table, and drop the generator's error schemas once nothing points at them.
 */
function withAppErrors(doc: OpenAPIObject): OpenAPIObject {
  const schemas = (doc.components ??= {}).schemas ??= {};
  schemas.Error = errorSchema();
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of HTTP_METHODS) {
      const op = (item as Record<string, OperationLike | undefined>)[method];
      if (op) op.responses = withErrorResponses(doc, path, method, op);
    }
  }
  const text = JSON.stringify(doc);
  for (const name of Object.keys(schemas)) {
    if (name.startsWith("error.") && !text.includes(`"#/components/schemas/${name}"`)) delete schemas[name];
  }
  return doc;
}

function errorSchema(): SchemaObject {
  return {
    type: "object",
    description: "The body of every REST error. `code` is stable; `message` is for humans and may change.",
    properties: {
      error: {
        type: "object",
        properties: {
          code: { type: "string", enum: APP_ERROR_CODES, description: "Stable application code; each maps to one HTTP status (docs/api.md#errors)" },
          message: { type: "string", description: "What went wrong; validation failures name the field (`title: is required`)" },
          details: {
            type: ["object", "null"],
            additionalProperties: true,
            description: "Machine-readable context, or null; validation failures have `fields` (field -> problem)",
          },
        },
        required: ["code", "message", "details"],
        additionalProperties: false,
      },
    },
    required: ["error"],
    additionalProperties: false,
    example: { error: SAMPLE_ERRORS.find((e) => e.code === "NOT_FOUND") },
  };
}

function isProtected(doc: OpenAPIObject, op: OperationLike): boolean {
  const requirements = op.security ?? (doc.security as OperationLike["security"]) ?? [];
  // An empty requirement object means "no credentials is also fine".
  return requirements.length > 0 && requirements.every((r) => Object.keys(r).length > 0);
}

function withErrorResponses(doc: OpenAPIObject, path: string, method: string, op: OperationLike): Record<string, unknown> {
  const responses = { ...op.responses };
  // Every call is counted against a budget (src/server/rate-limit/), so any may answer 429.
  const needed = [400, 429, 500];
  if (isProtected(doc, op)) needed.push(401, 403);
  if (path.includes("{")) needed.push(404);
  for (const status of needed) responses[status] ??= {};
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(responses).sort()) {
    const status = Number(key);
    // Build a new object: the generator shares one response object between operations.
    out[key] = status >= 400 ? errorResponse(status, exampleFor(doc, status, path, method, op)) : responses[key];
  }
  return out;
}

// Sent on 429s (and, but for Retry-After, on every rate-counted answer): docs/api.md#rate-limits.
const RATE_LIMIT_HEADERS = {
  "Retry-After": { description: "Seconds until the spent budget is whole again", schema: { type: "integer" } },
  RateLimit: { description: 'Calls left and seconds to the window\'s end, per budget: `"writes";r=0;t=42`', schema: { type: "string" } },
  "RateLimit-Policy": { description: 'The budget: `"writes";q=20;w=60` (q calls per w seconds)', schema: { type: "string" } },
};

function errorResponse(status: number, example: ErrorBody) {
  const codes = APP_ERROR_CODES.filter((c) => httpStatusOf(c) === status);
  const title = STATUS_TEXT[status] ?? "Error";
  return {
    description: codes.length > 0 ? `${title}: ${codes.map((c) => `\`${c}\``).join(", ")}` : title,
    ...(status === 429 ? { headers: RATE_LIMIT_HEADERS } : {}),
    content: { "application/json": { schema: { $ref: ERROR_REF }, example } },
  };
}

function exampleFor(doc: OpenAPIObject, status: number, path: string, method: string, op: OperationLike): ErrorBody {
  if (status === 400) return { error: badInputExample(doc, method, op) };
  if (status === 404) {
    const param = [...path.matchAll(/\{([^}]+)\}/g)].at(-1)?.[1];
    const known = param ? NOT_FOUND_BY_PARAM[param] : undefined;
    if (known && httpStatusOf(known.code) === 404) {
      return { error: { code: known.code, message: `${known.noun} '${exampleValue(op, param!)}' not found`, details: null } };
    }
  }
  const sample = SAMPLE_ERRORS.find((e) => httpStatusOf(e.code) === status);
  if (sample) return { error: sample };
  // A status the generator listed that no sample covers: any code the table maps to it, else INTERNAL.
  const code = APP_ERROR_CODES.find((c) => httpStatusOf(c) === status) ?? "INTERNAL";
  return { error: { code, message: STATUS_TEXT[status] ?? "Error", details: null } };
}

/** A validation failure naming one of the operation's own fields, as describeIssues words it. */
function badInputExample(doc: OpenAPIObject, method: string, op: OperationLike): ErrorBody["error"] {
  const body = resolve(doc, op.requestBody?.content?.["application/json"]?.schema);
  const query = (op.parameters ?? []).filter((p) => p.in === "query");
  const required = body?.required?.[0] ?? query.find((p) => p.required)?.name;
  const field = required ?? Object.keys(body?.properties ?? {})[0] ?? query[0]?.name;
  if (field) {
    const problem = required ? "is required" : "Invalid input";
    return { code: "VALIDATION_FAILED", message: `${field}: ${problem}`, details: { fields: { [field]: problem } } };
  }
  if (method !== "get" && method !== "head") {
    return { code: "BAD_REQUEST", message: "body: not valid JSON (Unexpected token 'x', \"x\" is not valid JSON)", details: { field: "body" } };
  }
  return { code: "VALIDATION_FAILED", message: "body: Invalid input", details: { fields: { body: "Invalid input" } } };
}

function resolve(doc: OpenAPIObject, schema: SchemaLike | undefined): SchemaLike | undefined {
  const ref = schema?.$ref;
  if (!ref?.startsWith("#/components/schemas/")) return schema;
  return doc.components?.schemas?.[ref.slice("#/components/schemas/".length)] as SchemaLike | undefined;
}

function exampleValue(op: OperationLike, param: string): string {
  const p = op.parameters?.find((x) => x.in === "path" && x.name === param) as { schema?: { example?: unknown } } | undefined;
  return typeof p?.schema?.example === "string" ? p.schema.example : `{${param}}`;
}
