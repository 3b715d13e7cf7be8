import { randomUUID } from "node:crypto";
import { getEnv } from "~/env";
import { log } from "~/server/log";
import { currentLogContext, withFreshLogContext } from "~/server/log-context";
import { isSecretFieldName, REDACTED } from "~/server/log-redaction";
import { clientIpOf } from "~/server/rate-limit/client-address";

// One access line per request, written when the answer has gone out (or the client left), and
// the request id every line written for the request carries.

/**
 * A client's X-Request-Id is kept when it is a plain token (what tracing tools send); anything
 * else (too long, spaces, quotes, control characters) is replaced by a fresh UUID, so the id is
 * safe to echo, to log and to search for.
 */
const ACCEPTED_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export function acceptRequestId(sent: string | string[] | null | undefined): string {
  const value = Array.isArray(sent) ? sent[0] : sent;
  return value && ACCEPTED_REQUEST_ID.test(value) ? value : randomUUID();
}

/** The id of the request being served (set by the server), else one from the headers. */
export function requestIdFor(headers: Headers): string {
  return currentLogContext()?.requestId ?? acceptRequestId(headers.get("x-request-id"));
}

// Query parameters whose values never reach the log: anything secret-named, and tRPC's `input`
// (a console call's whole argument).
const HIDDEN_QUERY_PARAMETERS = /^(input|code|state|key|sig|auth|session|nonce|callbackurl)$/i;
const MAX_QUERY_VALUE = 200;

/** The path as logged: the query's values are kept unless a secret could hide in them. */
export function loggedPath(url: string): { path: string; query?: string } {
  const at = url.indexOf("?");
  if (at < 0) return { path: url };
  const params = new URLSearchParams(url.slice(at + 1));
  const shown = new URLSearchParams();
  for (const [name, value] of params) {
    shown.append(name, HIDDEN_QUERY_PARAMETERS.test(name) || isSecretFieldName(name) ? REDACTED : value.slice(0, MAX_QUERY_VALUE));
  }
  const query = shown.toString();
  return { path: url.slice(0, at), ...(query ? { query } : {}) };
}

export interface AccessInfo {
  method: string;
  url: string;
  status: number;
  startedAt: number;
  peerAddress: string | undefined;
  forwardedFor: string | null;
  /** The client went away before the whole answer was written. */
  aborted?: boolean;
}

/** The access line: written in the request's context, so it carries its id and actor. */
export function logAccess(info: AccessInfo): void {
  const trustedProxies = safeTrustedProxies();
  log.info("request", {
    method: info.method,
    ...loggedPath(info.url),
    status: info.status,
    durationMs: Math.round((performance.now() - info.startedAt) * 10) / 10,
    clientAddress: clientIpOf({ peer: info.peerAddress, forwardedFor: info.forwardedFor, trustedProxies }),
    ...(info.aborted ? { aborted: true } : {}),
  });
}

function safeTrustedProxies(): number {
  try {
    return getEnv().TRUST_PROXY;
  } catch {
    return 0;
  }
}

/**
 * For the doors when Next serves them alone (no app server around them): the request's context
 * and its access line, which the app server otherwise provides.
 */
export async function withRequestLog(request: Request, serve: () => Promise<Response>): Promise<Response> {
  if (currentLogContext()?.requestId) return serve();
  const requestId = acceptRequestId(request.headers.get("x-request-id"));
  const startedAt = performance.now();
  const url = new URL(request.url);
  return withFreshLogContext({ requestId }, async () => {
    let status = 500;
    try {
      const response = await serve();
      status = response.status;
      return response;
    } finally {
      logAccess({ method: request.method, url: url.pathname + url.search, status, startedAt, peerAddress: undefined, forwardedFor: request.headers.get("x-forwarded-for") });
    }
  });
}
