import type { IncomingMessage, ServerResponse } from "node:http";
import pg from "pg";
import { getEnv } from "~/env";
import { getDb } from "~/server/db";
import { log } from "~/server/log";
import { outsideLogContext } from "~/server/log-context";
import { AppError, toAppError } from "~/server/errors";
import { createContext } from "~/server/api/trpc";
import { ZFeedCursor } from "~/server/api/routers/events";
import { listAgentEvents } from "~/server/services/events/list-agent-events";
import { EVENTS_PUBLISHED_CHANNEL } from "~/server/services/events/publish-job-events";

// GET /api/v1/events/stream: the event feed (GET /events, the same service) pushed as server-sent
// events. It is served here, by the Node server, because a response that never ends does not fit
// a tRPC procedure; under a Next-only deployment it does not exist (poll GET /events there).
// Each message is one feed event: `id:` its cursor, `data:` the same JSON as an item of GET
// /events (no `event:` field, so EventSource's onmessage receives every one). A reconnecting
// client sends Last-Event-ID and resumes after it; `?after=` does the same for the first
// connection. New events arrive when the publisher NOTIFYs (publish-job-events.ts), with a poll
// every few seconds behind that; a comment line every EVENT_STREAM_HEARTBEAT_SECONDS keeps proxies
// from closing an idle stream. Agents only (an API key); owners read their agents' webhooks.

export const EVENT_STREAM_PATH = "/events/stream";
const PAGE = 100;
const POLL_MS = 5_000;
const MAX_STREAMS_PER_AGENT = 5;

export interface EventStreams {
  serve(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void>;
  close(): Promise<void>;
}

export function createEventStreams(): EventStreams {
  const wakeups = new PublishedEventsListener();
  const openPerAgent = new Map<string, number>();

  return {
    async serve(req, res, requestId) {
      const url = new URL(req.url ?? "/", "http://stream");
      const lastEventId = req.headers["last-event-id"];
      const [field, raw] = typeof lastEventId === "string" && lastEventId !== "" ? ["Last-Event-ID", lastEventId] : ["after", url.searchParams.get("after") ?? "0"];
      const cursor = ZFeedCursor.safeParse(raw);
      if (!cursor.success) {
        return sendError(res, requestId, new AppError("VALIDATION_FAILED", `${field}: ${cursor.error.issues[0]?.message ?? "not a cursor"}`, { field }));
      }
      const headers = new Headers();
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
      let agentId: string;
      try {
        const ctx = await createContext({ headers, requestId });
        if (ctx.authFailure) throw new AppError("UNAUTHORIZED", ctx.authFailure);
        if (ctx.actor.kind === "owner") throw new AppError("FORBIDDEN", "The event stream is for agents: send one of your agents' API keys ('Authorization: Bearer <api_key>')");
        if (ctx.actor.kind !== "agent") throw new AppError("UNAUTHORIZED", "This operation needs an API key: send 'Authorization: Bearer <api_key>'");
        agentId = ctx.actor.agentId;
      } catch (err) {
        return sendError(res, requestId, toAppError(err));
      }
      const open = openPerAgent.get(agentId) ?? 0;
      if (open >= MAX_STREAMS_PER_AGENT) {
        return sendError(res, requestId, new AppError("RATE_LIMITED", `At most ${MAX_STREAMS_PER_AGENT} event streams per agent at once; close one first`));
      }
      openPerAgent.set(agentId, open + 1);
      try {
        await stream({ req, res, requestId, agentId, after: cursor.data, wakeups });
      } finally {
        const left = (openPerAgent.get(agentId) ?? 1) - 1;
        if (left > 0) openPerAgent.set(agentId, left);
        else openPerAgent.delete(agentId);
      }
    },
    close: () => wakeups.close(),
  };
}

function sendError(res: ServerResponse, requestId: string, error: AppError): void {
  res.writeHead(error.httpStatus, { "Content-Type": "application/json", "X-Request-Id": requestId });
  res.end(JSON.stringify({ error: { code: error.code, message: error.message, details: error.details ?? null } }));
}

async function stream({ req, res, requestId, agentId, after, wakeups }: { req: IncomingMessage; res: ServerResponse; requestId: string; agentId: string; after: bigint; wakeups: PublishedEventsListener }) {
  let closed = false;
  let pending = true; // something may have been published since the last read
  let wake: (() => void) | undefined;
  const poke = () => {
    pending = true;
    wake?.();
  };
  const ended = new Promise<void>((resolve) =>
    res.once("close", () => {
      closed = true;
      resolve();
      wake?.();
    }),
  );
  const write = async (chunk: string) => {
    if (closed) return;
    if (!res.write(chunk)) await Promise.race([new Promise((resolve) => res.once("drain", resolve)), ended]);
  };
  res.writeHead(200, {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    Connection: "keep-alive",
    // nginx and friends: pass each message on as it is written.
    "X-Accel-Buffering": "no",
    "X-Request-Id": requestId,
  });
  res.flushHeaders();
  const unsubscribe = wakeups.subscribe(poke);
  const heartbeat = setInterval(() => void write(": heartbeat\n\n"), getEnv().EVENT_STREAM_HEARTBEAT_SECONDS * 1_000);
  req.socket.setKeepAlive(true);
  let cursor = after;
  try {
    await write("retry: 3000\n\n");
    while (!closed) {
      pending = false;
      const page = await listAgentEvents({ db: getDb(), agentId, after: cursor, limit: PAGE });
      for (const { cursor: place, ...payload } of page.events) {
        await write(`id: ${place}\ndata: ${JSON.stringify({ cursor: place.toString(), ...payload })}\n\n`);
      }
      cursor = page.nextCursor;
      if (page.hasMore || pending) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, POLL_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  } catch (err) {
    // The client reconnects (retry: 3000) with Last-Event-ID and misses nothing.
    log.warn("event stream ended by an error", { agentId, requestId, error: String(err) });
  } finally {
    clearInterval(heartbeat);
    unsubscribe();
    res.end();
  }
}

/**
 * One LISTEN connection per server for every open stream, opened with the first stream and
 * re-opened with backoff if it drops (streams poll meanwhile, and are woken once it is back).
 */
class PublishedEventsListener {
  private subscribers = new Set<() => void>();
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private reconnect: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;

  subscribe(subscriber: () => void): () => void {
    this.subscribers.add(subscriber);
    // Outside the log context of the stream that happened to open it: the listener is shared.
    if (!this.client && !this.connecting && !this.reconnect && !this.stopped) this.connecting = outsideLogContext(() => this.connect().finally(() => (this.connecting = undefined)));
    return () => this.subscribers.delete(subscriber);
  }

  private wakeAll() {
    for (const subscriber of this.subscribers) subscriber();
  }

  private async connect(): Promise<void> {
    const next = new pg.Client({ connectionString: getEnv().DATABASE_URL, application_name: "agent-market-event-stream" });
    const lost = (err?: Error) => {
      if (this.client !== next) return;
      this.client = undefined;
      next.end().catch(() => undefined);
      if (this.stopped) return;
      log.warn("event stream listener lost; streams poll until it is back", { error: String(err ?? "connection ended") });
      this.scheduleReconnect();
    };
    next.on("error", lost);
    next.on("end", () => lost());
    next.on("notification", () => this.wakeAll());
    this.client = next;
    try {
      await next.connect();
      await next.query(`LISTEN ${EVENTS_PUBLISHED_CHANNEL}`);
      this.failures = 0;
      // Anything published while it was away.
      this.wakeAll();
      if (this.stopped) await next.end().catch(() => undefined);
    } catch (err) {
      if (this.client === next) this.client = undefined;
      next.end().catch(() => undefined);
      if (!this.stopped) {
        log.warn("event stream listener could not connect; streams poll until it is back", { error: String(err) });
        this.scheduleReconnect();
      }
    }
  }

  private scheduleReconnect() {
    if (this.stopped || this.reconnect) return;
    const delayMs = Math.min(30_000, 500 * 2 ** this.failures++);
    this.reconnect = setTimeout(() => {
      this.reconnect = undefined;
      if (this.subscribers.size > 0) this.connecting = this.connect().finally(() => (this.connecting = undefined));
    }, delayMs);
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnect);
    await this.connecting?.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
