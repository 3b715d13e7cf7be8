import { log } from "~/server/log";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { createOpenApiNodeHttpHandler } from "trpc-to-openapi";
import type { AnyTRPCProcedure, TRPCError } from "@trpc/server";
import { getEnv } from "~/env";
import { appRouter } from "~/server/api/root";
import { createContext } from "~/server/api/trpc";
import { getOpenApiDocument } from "~/server/api/openapi";
import { AppError, toAppError } from "~/server/errors";
import { renderApiReference } from "./api-reference";

// Both doors (tRPC for the console, REST for agents) are plain fetch handlers over one router;
// Next's route handlers and our Node server (src/server/http/app-server.ts) both call them.

export const REST_PREFIX = "/api/v1";
export const TRPC_PREFIX = "/api/trpc";
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
  const headers: Record<string, string> = { "X-Request-Id": requestId };
  if (getEnv().devMode) headers["X-Dev-Mode"] = "true";
  return headers;
}

function json(status: number, body: unknown, headers: Record<string, string>): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

function errorResponse(error: AppError, headers: Record<string, string>): Response {
  return json(error.httpStatus, { error: { code: error.code, message: error.message, details: error.details ?? null } }, headers);
}

const openApiNodeHandler = createOpenApiNodeHttpHandler({
  router: appRouter,
  createContext: ({ req }: { req: Request }) => createContext({ headers: req.headers, requestId: req.headers.get("x-request-id") ?? undefined }),
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
  // trpc-to-openapi types this for Node requests; we hand it a fetch Request with a parsed body.
} as never) as unknown as (req: Request, res: ResponseShim) => Promise<void>;

interface ResponseShim {
  statusCode: number;
  setHeader(key: string, value: string | string[]): void;
  end(body?: string): void;
}

async function readJsonBody(request: Request): Promise<unknown> {
  const text = await request.text();
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw new AppError("PAYLOAD_TOO_LARGE", `Request body is over ${MAX_BODY_BYTES} bytes`);
  if (text.trim() === "") return {};
  const contentType = request.headers.get("content-type");
  if (contentType && !contentType.includes("json")) {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", `Send JSON with Content-Type: application/json (got '${contentType}')`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new AppError("BAD_REQUEST", `body: not valid JSON (${(err as Error).message})`, { field: "body" });
  }
}

export async function handleRestRequest(request: Request): Promise<Response> {
  const requestId = request.headers.get("x-request-id") ?? crypto.randomUUID();
  const headers = commonHeaders(requestId);
  const url = new URL(request.url);
  const path = url.pathname.slice(REST_PREFIX.length) || "/";
  try {
    if (request.method === "GET" && path === "/openapi.json") return json(200, getOpenApiDocument(), headers);
    if (request.method === "GET" && (path === "/docs" || path === "/")) {
      return new Response(renderApiReference(getOpenApiDocument()), { status: 200, headers: { "Content-Type": "text/html; charset=utf-8", ...headers } });
    }
    const hasBody = request.method !== "GET" && request.method !== "HEAD";
    const body = hasBody ? await readJsonBody(request) : undefined;
    const rewritten = new URL(path + url.search, url.origin).toString();
    // trpc-to-openapi reads url, headers and body from the request; we give it the parsed body
    // so a POST without a body or content type (e.g. `curl -X POST .../claim`) just works.
    const proxied = new Proxy(request, {
      get(target, prop) {
        if (prop === "url") return rewritten;
        if (prop === "body") return body;
        if (prop === "headers" && hasBody) {
          const h = new Headers(target.headers);
          h.set("content-type", "application/json");
          h.set("x-request-id", requestId);
          return h;
        }
        if (prop === "headers") {
          const h = new Headers(target.headers);
          h.set("x-request-id", requestId);
          return h;
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const raw = await new Promise<{ status: number; headers: Headers; body: string }>((resolve, reject) => {
      const resHeaders = new Headers();
      const shim: ResponseShim = {
        statusCode: 200,
        setHeader(key, value) {
          if (Array.isArray(value)) value.forEach((v) => resHeaders.append(key, v));
          else resHeaders.set(key, value);
        },
        end(text) {
          resolve({ status: shim.statusCode, headers: resHeaders, body: text ?? "" });
        },
      };
      openApiNodeHandler(proxied, shim).catch(reject);
    });
    if (raw.status < 400) {
      return new Response(raw.body || null, { status: raw.status, headers: { "Content-Type": "application/json", ...headers } });
    }
    // One error body for every REST failure: { error: { code, message, details } }.
    const parsed = JSON.parse(raw.body || "{}") as { error?: { code: string; message: string; details: unknown }; message?: string; code?: string };
    const error = parsed.error ?? { code: raw.status === 404 ? "NOT_FOUND" : "INTERNAL", message: parsed.message ?? "Error", details: null };
    if (raw.status === 404 && (parsed.message === "Not found" || error.message === "Not found")) {
      error.message = `No route ${request.method} ${REST_PREFIX}${path}; see ${REST_PREFIX}/openapi.json`;
    }
    return json(raw.status, { error }, headers);
  } catch (err) {
    const appError = toAppError(err);
    if (appError.code === "INTERNAL") log.error("REST adapter failure", { error: String(err), stack: (err as Error).stack });
    return errorResponse(appError, headers);
  }
}

export async function handleTrpcRequest(request: Request): Promise<Response> {
  const requestId = request.headers.get("x-request-id") ?? crypto.randomUUID();
  const response = await fetchRequestHandler({
    endpoint: TRPC_PREFIX,
    req: request,
    router: appRouter,
    createContext: () => createContext({ headers: request.headers, requestId }),
    onError: ({ error, path }) => {
      if (toAppError(error, error.code).code === "INTERNAL") {
        log.error("unhandled error in procedure", { path, error: String(error.cause ?? error) });
      }
    },
  });
  for (const [k, v] of Object.entries(commonHeaders(requestId))) response.headers.set(k, v);
  return response;
}
