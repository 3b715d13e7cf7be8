import { log } from "~/server/log";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { createOpenApiNodeHttpHandler } from "trpc-to-openapi";
import { TRPCError, type AnyTRPCProcedure } from "@trpc/server";
import { getEnv } from "~/env";
import { appRouter } from "~/server/api/root";
import { createContext } from "~/server/api/trpc";
import { getOpenApiDocument } from "~/server/api/openapi";
import { AppError, toAppError } from "~/server/errors";
import { jsonInputProblem } from "~/server/input-bounds";
import { RateLimitRecorder } from "~/server/rate-limit/headers";
import { API_REFERENCE_CONTENT_SECURITY_POLICY, renderApiReference } from "./api-reference";
import { API_SECURITY_HEADERS } from "./security-headers";
import { requestIdFor, withRequestLog } from "./request-log";

// Both doors (tRPC for the console, REST for agents) are plain fetch handlers over one router;
// Next's route handlers and our Node server (src/server/http/app-server.ts) both call them.

export const REST_PREFIX = "/api/v1";
export const TRPC_PREFIX = "/api/trpc";
/** Both doors: larger bodies are 413; the JSON inside must also pass jsonInputProblem (depth, text). */
const MAX_BODY_BYTES = 256 * 1024;

// Success statuses other than 200 come from procedure meta: a fixed one (201, 202) or one
// derived from the output (health answers 503 when the database is down).
const successStatusByPath = new Map<string, number>();
const statusFromOutputByPath = new Map<string, (output: unknown) => number | undefined>();
for (const [path, procedure] of Object.entries(appRouter._def.procedures as unknown as Record<string, AnyTRPCProcedure>)) {
  const meta = procedure._def.meta as { successStatus?: number; statusFromOutput?: (output: unknown) => number | undefined } | undefined;
  if (meta?.successStatus) successStatusByPath.set(path, meta.successStatus);
  if (meta?.statusFromOutput) statusFromOutputByPath.set(path, meta.statusFromOutput);
}

function commonHeaders(requestId: string): Record<string, string> {
  const headers: Record<string, string> = { ...API_SECURITY_HEADERS, "X-Request-Id": requestId };
  if (getEnv().devMode) headers["X-Dev-Mode"] = "true";
  return headers;
}

/** A REST answer before it is written out: to a Node ServerResponse or as a fetch Response. */
export interface RestResult {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function jsonResult(status: number, body: unknown, headers: Record<string, string>): RestResult {
  return { status, headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify(body) };
}

function errorResult(error: AppError, headers: Record<string, string>): RestResult {
  return jsonResult(error.httpStatus, { error: { code: error.code, message: error.message, details: error.details ?? null } }, headers);
}

/** What the REST door knows of a request beyond its headers, handed to createContext. */
interface RestConnection {
  peerAddress: string | undefined;
  rateLimits: RateLimitRecorder;
}
const restConnections = new WeakMap<Request, RestConnection>();

const openApiNodeHandler = createOpenApiNodeHttpHandler({
  router: appRouter,
  createContext: ({ req }: { req: Request }) =>
    createContext({ headers: req.headers, requestId: req.headers.get("x-request-id") ?? undefined, ...restConnections.get(req) }),
  responseMeta: ({ paths, errors, data }: { paths?: string[]; errors: TRPCError[]; data?: unknown[] }) => {
    if (errors.length > 0) return { status: toAppError(errors[0], errors[0]!.code).httpStatus };
    const path = paths?.[0];
    const status = path ? (statusFromOutputByPath.get(path)?.(data?.[0]) ?? successStatusByPath.get(path)) : undefined;
    return status ? { status } : {};
  },
  onError: ({ error, path }: { error: TRPCError; path?: string }) => {
    if (toAppError(error, error.code).code === "INTERNAL") {
      log.error("unhandled error in procedure", { path, error: String(error.cause ?? error), stack: (error.cause as Error | undefined)?.stack });
    }
  },
  // trpc-to-openapi types this for Node requests; it also takes fetch Requests (see restRequest).
} as never) as unknown as (req: Request, res: ResponseShim) => Promise<void>;

interface ResponseShim {
  statusCode: number;
  setHeader(key: string, value: string | string[]): void;
  end(body?: string): void;
}

/** What the REST door needs from an HTTP request, whichever server received it. */
export interface RestInput {
  method: string;
  /** Path and query after /api/v1, e.g. "/jobs?status=funded". */
  pathAndQuery: string;
  headers: Headers;
  /** The raw body; undefined for GET and HEAD. */
  body: string | undefined;
  /** The socket's remote address; undefined when Next serves the door (see TRUST_PROXY). */
  peerAddress?: string;
}

function parseJsonBody(text: string, contentType: string | null): unknown {
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw new AppError("PAYLOAD_TOO_LARGE", `Request body is over ${MAX_BODY_BYTES} bytes`);
  if (text.trim() === "") return {};
  if (contentType && !contentType.includes("json")) {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", `Send JSON with Content-Type: application/json (got '${contentType}')`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new AppError("BAD_REQUEST", `body: not valid JSON (${(err as Error).message})`, { field: "body" });
  }
  const problem = jsonInputProblem(body);
  if (problem) throw problem;
  return body;
}

// The REST core answers only once the whole body has arrived, so nothing needs to abort a call.
const NEVER_ABORTED = new AbortController().signal;

/**
 * trpc-to-openapi reads a fetch Request's method, url, headers, signal and (when present) an
 * already-parsed body. Hand it exactly those on a Request-shaped object rather than building a
 * real Request per call (and copying headers and body into it): this path serves every agent call.
 * The parsed body means a POST without a body or content type (`curl -X POST .../claim`) works.
 */
function restRequest(method: string, url: string, headers: Headers, body: unknown): Request {
  return Object.create(Request.prototype, {
    method: { value: method },
    url: { value: url },
    headers: { value: headers },
    body: { value: body },
    signal: { value: NEVER_ABORTED },
  }) as Request;
}

/** The REST door: one error body for every failure, `{ error: { code, message, details } }`. */
export async function serveRest(input: RestInput): Promise<RestResult> {
  const requestId = requestIdFor(input.headers);
  const headers = commonHeaders(requestId);
  const path = input.pathAndQuery.split("?")[0] || "/";
  try {
    if (input.method === "GET" && path === "/openapi.json") return jsonResult(200, getOpenApiDocument(), headers);
    if (input.method === "GET" && (path === "/docs" || path === "/")) {
      return {
        status: 200,
        headers: { "Content-Type": "text/html; charset=utf-8", ...headers, "Content-Security-Policy": API_REFERENCE_CONTENT_SECURITY_POLICY },
        body: renderApiReference(getOpenApiDocument()),
      };
    }
    const hasBody = input.method !== "GET" && input.method !== "HEAD";
    const body = hasBody ? parseJsonBody(input.body ?? "", input.headers.get("content-type")) : undefined;
    input.headers.set("x-request-id", requestId);
    if (hasBody) input.headers.set("content-type", "application/json");
    const rateLimits = new RateLimitRecorder();
    const request = restRequest(input.method, `http://rest${input.pathAndQuery}`, input.headers, body);
    restConnections.set(request, { peerAddress: input.peerAddress, rateLimits });
    const raw = await new Promise<RestResult>((resolve, reject) => {
      const resHeaders: Record<string, string> = {};
      const shim: ResponseShim = {
        statusCode: 200,
        setHeader(key, value) {
          resHeaders[key] = Array.isArray(value) ? value.join(", ") : value;
        },
        end(text) {
          resolve({ status: shim.statusCode, headers: resHeaders, body: text ?? "" });
        },
      };
      openApiNodeHandler(request, shim).catch(reject);
    });
    Object.assign(headers, rateLimits.headers());
    if (raw.status < 400) return { status: raw.status, headers: { "Content-Type": "application/json", ...headers }, body: raw.body };
    const parsed = JSON.parse(raw.body || "{}") as { error?: { code: string; message: string; details: unknown }; message?: string; code?: string };
    const error = parsed.error ?? { code: raw.status === 404 ? "NOT_FOUND" : "INTERNAL", message: parsed.message ?? "Error", details: null };
    if (raw.status === 404 && (parsed.message === "Not found" || error.message === "Not found")) {
      error.message = `No route ${input.method} ${REST_PREFIX}${path}; see ${REST_PREFIX}/openapi.json`;
    }
    return jsonResult(raw.status, { error }, headers);
  } catch (err) {
    const appError = toAppError(err);
    if (appError.code === "INTERNAL") log.error("REST adapter failure", { error: String(err), stack: (err as Error).stack });
    return errorResult(appError, headers);
  }
}

/** The REST door as a fetch handler (Next's route handler, for deployments that run Next alone). */
export function handleRestRequest(request: Request): Promise<Response> {
  return withRequestLog(request, async () => {
    const url = new URL(request.url);
    const hasBody = request.method !== "GET" && request.method !== "HEAD";
    const result = await serveRest({
      method: request.method,
      pathAndQuery: (url.pathname.slice(REST_PREFIX.length) || "/") + url.search,
      headers: new Headers(request.headers),
      body: hasBody ? await request.text() : undefined,
    });
    return new Response(result.body || null, { status: result.status, headers: result.headers });
  });
}

/**
 * The tRPC door's input, held to the REST door's limits before tRPC parses it: the body's size,
 * and each call's input (in the body, or the `input` query parameter of a GET) by
 * jsonInputProblem. Input tRPC cannot parse is left for tRPC to refuse in its own words.
 */
function trpcInputProblem(url: URL, body: string | undefined): AppError | undefined {
  if (body !== undefined && Buffer.byteLength(body) > MAX_BODY_BYTES) return new AppError("PAYLOAD_TOO_LARGE", `Request body is over ${MAX_BODY_BYTES} bytes`);
  const text = body ?? url.searchParams.get("input");
  if (!text) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  // A batch is { "0": input, "1": input, ... }: each input is held to the limits on its own.
  const inputs = url.searchParams.has("batch") && parsed && typeof parsed === "object" ? Object.values(parsed) : [parsed];
  for (const input of inputs) {
    const problem = jsonInputProblem(input);
    if (problem) return problem;
  }
  return undefined;
}

/** The tRPC door (Next's route handler; Next passes no socket address, see TRUST_PROXY). */
export function handleTrpcRequest(request: Request): Promise<Response> {
  return withRequestLog(request, () => serveTrpc(request, {}));
}

/** The tRPC door. Every call of a batch is counted; the headers tell of every budget touched. */
export async function serveTrpc(incoming: Request, { peerAddress }: { peerAddress?: string }): Promise<Response> {
  const rateLimits = new RateLimitRecorder();
  const requestId = requestIdFor(incoming.headers);
  const hasBody = incoming.method !== "GET" && incoming.method !== "HEAD";
  const body = hasBody ? await incoming.text() : undefined;
  const request = hasBody ? new Request(incoming.url, { method: incoming.method, headers: incoming.headers, body }) : incoming;
  const inputProblem = trpcInputProblem(new URL(incoming.url), body);
  const response = await fetchRequestHandler({
    endpoint: TRPC_PREFIX,
    req: request,
    router: appRouter,
    // Refusing here, where tRPC builds the context, answers every call of a batch in tRPC's own
    // error shape (through the error formatter), before any input reaches a procedure.
    createContext: () => {
      if (inputProblem) throw new TRPCError({ code: inputProblem.trpcCode, message: inputProblem.message, cause: inputProblem });
      return createContext({ headers: request.headers, requestId, peerAddress, rateLimits });
    },
    onError: ({ error, path }) => {
      if (toAppError(error, error.code).code === "INTERNAL") {
        log.error("unhandled error in procedure", { path, error: String(error.cause ?? error) });
      }
    },
  });
  for (const [k, v] of Object.entries({ ...commonHeaders(requestId), ...rateLimits.headers() })) response.headers.set(k, v);
  return response;
}
