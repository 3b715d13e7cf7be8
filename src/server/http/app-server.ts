import { log } from "~/server/log";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { getEnv } from "~/env";
import { REST_PREFIX, serveRest, serveTrpc, TRPC_PREFIX, type RestResult } from "./handlers";
import { API_SECURITY_HEADERS } from "./security-headers";
import { createEventStreams, EVENT_STREAM_PATH } from "./event-stream";
import { acceptRequestId, logAccess } from "./request-log";
import { currentLogContext, withFreshLogContext } from "~/server/log-context";

const MAX_BODY_BYTES = 1024 * 1024;

type NodeHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  if (req.method === "GET" || req.method === "HEAD") return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw Object.assign(new Error("body too large"), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function headersOf(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  return headers;
}

async function toFetchRequest(req: IncomingMessage): Promise<Request> {
  const headers = headersOf(req);
  const body = await readBody(req);
  return new Request(`http://${req.headers.host ?? "127.0.0.1"}${req.url ?? "/"}`, { method: req.method, headers, body: body && body.length > 0 ? new Uint8Array(body) : undefined });
}

async function sendFetchResponse(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, key) => {
    headers[key] = value;
  });
  res.writeHead(response.status, headers);
  res.end(Buffer.from(await response.arrayBuffer()));
}

/** The REST door straight from Node's request to Node's response (no fetch Request or Response in between). */
async function serveRestNode(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req);
  const result: RestResult = await serveRest({
    method: req.method ?? "GET",
    pathAndQuery: (req.url ?? "/").slice(REST_PREFIX.length) || "/",
    headers: headersOf(req),
    body: body?.toString("utf8"),
    peerAddress: req.socket.remoteAddress,
  });
  res.writeHead(result.status, result.headers);
  res.end(result.body);
}

/**
 * The process's HTTP server: the API doors are served directly (no page router in the way),
 * everything else goes to Next when a page handler is given. Tests use it without Next.
 */
export function createAppServer({ pageHandler }: { pageHandler?: NodeHandler } = {}): http.Server {
  const devMode = getEnv().devMode;
  const eventStreams = createEventStreams();
  const serve = async (req: IncomingMessage, res: ServerResponse, requestId: string) => {
    // G23: every response, pages included, says when this is not a real deployment.
    if (devMode) res.setHeader("X-Dev-Mode", "true");
    // Every response, whoever writes it, starts with the restrictive headers; pages get their
    // own policy from src/proxy.ts, the API reference page from handlers.ts.
    for (const [name, value] of Object.entries(API_SECURITY_HEADERS)) res.setHeader(name, value);
    res.setHeader("X-Request-Id", requestId);
    try {
      const path = (req.url ?? "/").split("?")[0]!;
      // Server-sent events: a response that stays open, so not a procedure (event-stream.ts).
      if (req.method === "GET" && path === `${REST_PREFIX}${EVENT_STREAM_PATH}`) return await eventStreams.serve(req, res, requestId);
      if (path === REST_PREFIX || path.startsWith(`${REST_PREFIX}/`)) return await serveRestNode(req, res);
      if (path.startsWith(`${TRPC_PREFIX}/`)) return await sendFetchResponse(res, await serveTrpc(await toFetchRequest(req), { peerAddress: req.socket.remoteAddress }));
      if (pageHandler) return await pageHandler(req, res);
      res.writeHead(404, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: { code: "NOT_FOUND", message: `No route ${req.method} ${path}`, details: null } }));
    } catch (err) {
      const status = (err as { status?: number }).status ?? 500;
      if (status === 500) log.error("request failed", { error: String(err) });
      if (!res.headersSent) res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: { code: status === 413 ? "PAYLOAD_TOO_LARGE" : "INTERNAL", message: status === 413 ? "Request body too large" : "Internal error", details: null } }));
    }
  };
  const server = http.createServer((req, res) => {
    // Every request, pages included, runs in its own log context under one request id (the
    // client's X-Request-Id when it is a plain token) and ends with one access line.
    const requestId = acceptRequestId(req.headers["x-request-id"]);
    const startedAt = performance.now();
    // Read now: by the time the response closes, the socket may be gone from the request.
    const peerAddress = req.socket.remoteAddress;
    const forwardedFor = (req.headers["x-forwarded-for"] as string | undefined) ?? null;
    return withFreshLogContext({ requestId }, () => {
      const context = currentLogContext()!;
      res.once("close", () =>
        withFreshLogContext(context, () =>
          logAccess({
            method: req.method ?? "GET",
            url: req.url ?? "/",
            status: res.statusCode,
            startedAt,
            peerAddress,
            forwardedFor,
            aborted: !res.writableFinished,
          }),
        ),
      );
      return serve(req, res, requestId);
    });
  });
  server.on("close", () => void eventStreams.close());
  return server;
}

export function listen(server: http.Server, port: number, host = "0.0.0.0"): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : port);
    });
  });
}
