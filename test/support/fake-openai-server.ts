import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A real HTTP server speaking just enough of the OpenAI chat completions protocol for the
 * oracle's judge (non-streaming only). Tests point the AI SDK at it instead of mocking the SDK,
 * so request shape, structured-output handling, HTTP errors and aborts are all exercised for real.
 */

export type FakeJudgeCriterion = { criterion: string; passed: boolean; reasoning: string };

export type FakeVerdictBehaviour = {
  kind: "verdict";
  score: number;
  verdict: "pass" | "fail";
  reason: string;
  /** Defaults to a single "Overall" criterion agreeing with the verdict. */
  criteria?: FakeJudgeCriterion[];
};

export type FakeStaticBehaviour =
  | FakeVerdictBehaviour
  /** Accepts the request and never answers; the socket is destroyed on close(). */
  | { kind: "hang" }
  | { kind: "delay"; ms: number; then: FakeVerdictBehaviour }
  | { kind: "error"; status: number; message?: string }
  /** Answers with this exact assistant message text, e.g. to simulate a malformed verdict. */
  | { kind: "content"; content: string };

/** Lets a test decide per request, e.g. pass only when the delivery contains "GOOD". */
export type FakeBehaviourFunction = (requestBody: any) => FakeStaticBehaviour;

export type FakeBehaviour = FakeStaticBehaviour | FakeBehaviourFunction;

export type FakeOpenAI = {
  /** Ends with `/v1`, as OpenAI-compatible base URLs do. */
  baseUrl: string;
  setBehaviour(behaviour: FakeBehaviour): void;
  /** Every chat completion request received, in order, with its parsed JSON body. */
  requests: Array<{ body: any }>;
  close(): Promise<void>;
};

export const FAKE_MODEL_ID = "fake-judge";

export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  let behaviour: FakeBehaviour = { kind: "verdict", score: 100, verdict: "pass", reason: "Looks good" };
  const requests: Array<{ body: any }> = [];
  const pendingTimers = new Set<NodeJS.Timeout>();

  const server = createServer((request, response) => {
    handleRequest(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendJson(response, 500, openAIError(String(error), "server_error"));
    });
  });

  async function handleRequest(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;

    if (request.method === "GET" && path === "/v1/models") {
      sendJson(response, 200, {
        object: "list",
        data: [{ id: FAKE_MODEL_ID, object: "model", created: 0, owned_by: "fake" }],
      });
      return;
    }

    if (request.method !== "POST" || path !== "/v1/chat/completions") {
      sendJson(response, 404, openAIError(`No route for ${request.method} ${path}`, "invalid_request_error"));
      return;
    }

    const rawBody = await readBody(request);
    let body: any;
    try {
      body = JSON.parse(rawBody);
    } catch {
      sendJson(response, 400, openAIError("Request body is not JSON", "invalid_request_error"));
      return;
    }
    requests.push({ body });

    if (body.stream === true) {
      sendJson(response, 400, openAIError("The fake server does not stream", "invalid_request_error"));
      return;
    }

    const resolved = typeof behaviour === "function" ? behaviour(body) : behaviour;
    respond(resolved, body, response);
  }

  function respond(resolved: FakeStaticBehaviour, body: any, response: ServerResponse): void {
    switch (resolved.kind) {
      case "verdict":
        sendJson(response, 200, chatCompletion(body, JSON.stringify(verdictPayload(resolved))));
        return;
      case "content":
        sendJson(response, 200, chatCompletion(body, resolved.content));
        return;
      case "error":
        sendJson(response, resolved.status, openAIError(resolved.message ?? `Fake failure ${resolved.status}`, "server_error"));
        return;
      case "hang":
        return;
      case "delay": {
        const timer = setTimeout(() => {
          pendingTimers.delete(timer);
          // The client may have given up (aborted) meanwhile; writing then would just throw.
          if (!response.destroyed) respond(resolved.then, body, response);
        }, resolved.ms);
        pendingTimers.add(timer);
        return;
      }
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    setBehaviour(next) {
      behaviour = next;
    },
    requests,
    async close() {
      for (const timer of pendingTimers) clearTimeout(timer);
      pendingTimers.clear();
      // Hanging requests keep their sockets open; without this close() would wait for them forever.
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

function verdictPayload(behaviour: FakeVerdictBehaviour) {
  return {
    score: behaviour.score,
    verdict: behaviour.verdict,
    reason: behaviour.reason,
    criteria: behaviour.criteria ?? [
      { criterion: "Overall", passed: behaviour.verdict === "pass", reasoning: behaviour.reason },
    ],
  };
}

/**
 * The AI SDK's `Output.object` with `supportsStructuredOutputs` sends
 * `response_format: { type: "json_schema" }` (not tools), and reads the JSON from the assistant
 * message content, so that is where the verdict goes.
 */
function chatCompletion(requestBody: any, assistantContent: string) {
  return {
    id: `chatcmpl-fake-${Date.now()}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: typeof requestBody.model === "string" ? requestBody.model : FAKE_MODEL_ID,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: assistantContent },
        finish_reason: "stop",
      },
    ],
    usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
  };
}

function openAIError(message: string, type: string) {
  return { error: { message, type, param: null, code: null } };
}

function sendJson(response: ServerResponse, status: number, payload: unknown): void {
  const text = JSON.stringify(payload);
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  response.end(text);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
