import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { encode } from "next-auth/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "./support/app";
import { createFundedJob } from "./support/jobs";
import { captureProcessOutput, type LogCapture } from "./support/log-capture";

// The log output as an operator reads it (the app's stdout and stderr, captured in this
// process): one access line per request with its request id and actor, the request id carried
// into the background work the request caused, and no secret anywhere.

let app: TestApp;
let output: LogCapture;
let rpc: RefusingRpcProxy;

/** In front of anvil: refuses eth_sendRawTransaction with a 503 while `refusing` is set. */
interface RefusingRpcProxy {
  url: string;
  refusing: boolean;
  refused: number;
  close(): Promise<void>;
}

async function startRefusingRpcProxy(target: string): Promise<RefusingRpcProxy> {
  const proxy = { refusing: false, refused: 0 } as RefusingRpcProxy;
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const calls = ([] as { method: string }[]).concat(JSON.parse(body));
    if (proxy.refusing && calls.some((c) => c.method === "eth_sendRawTransaction")) {
      proxy.refused++;
      res.writeHead(503, { "Content-Type": "text/plain" }).end("node overloaded");
      return;
    }
    const upstream = await fetch(target, { method: "POST", headers: { "Content-Type": "application/json" }, body });
    res.writeHead(upstream.status, { "Content-Type": "application/json" }).end(await upstream.text());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () => new Promise((resolve) => server.close(() => resolve()));
  return proxy;
}

beforeAll(async () => {
  output = captureProcessOutput();
  // Manual oracle (no model): verdicts are given over the API, by a request with its own id.
  app = await startTestApp({ extraEnv: { LOG_LEVEL: "info" } });
  // The app reaches the chain through a proxy that can refuse broadcasts (the test's own clients do not).
  rpc = await startRefusingRpcProxy(app.rpcUrl);
  process.env.CHAIN_RPC_URL = rpc.url;
  (await import("~/env")).resetEnv();
  (await import("~/server/chain/chain")).resetChain();
});

afterAll(async () => {
  await app?.stop();
  await rpc?.close();
  output?.stop();
});

async function ownerSession(email: string, password: string): Promise<string> {
  const res = await app.api("POST", "/owners", { body: { email, name: "Log Owner", password } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const { getEnv } = await import("~/env");
  return `next-auth.session-token=${await encode({ token: { ownerId: res.body.owner_id, email }, secret: getEnv().NEXTAUTH_SECRET })}`;
}

/** The access line of the request with this id, once the server has written it. */
function accessLine(requestId: string) {
  return app.waitFor(`access line of ${requestId}`, async () => output.lines().find((l) => l.msg === "request" && l.requestId === requestId), 5_000);
}

describe("access log", () => {
  it("writes one line per request with method, path, status, duration, request id, actor and client address", async () => {
    const agent = await app.registerAgent("log-reader");
    const res = await fetch(`${app.baseUrl}/api/v1/jobs?limit=2&status=open`, { headers: { "X-Request-Id": "trace-0001.abc", Authorization: `Bearer ${agent.apiKey}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBe("trace-0001.abc");
    const line = await accessLine("trace-0001.abc");
    expect(line).toMatchObject({
      level: "info",
      msg: "request",
      method: "GET",
      path: "/api/v1/jobs",
      query: "limit=2&status=open",
      status: 200,
      requestId: "trace-0001.abc",
      actor: "agent",
      agentId: "log-reader",
      clientAddress: "127.0.0.1",
    });
    expect(typeof line.durationMs).toBe("number");
    expect(typeof line.time).toBe("string");
    expect(output.lines().filter((l) => l.msg === "request" && l.requestId === "trace-0001.abc")).toHaveLength(1);
  });

  it("generates the id when none (or no plain token) is sent, on both doors, errors included, and names an owner", async () => {
    const trpc = await fetch(`${app.baseUrl}/api/trpc/platform.stats`);
    expect(trpc.status).toBe(200);
    const trpcId = trpc.headers.get("x-request-id")!;
    expect(trpcId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await accessLine(trpcId)).toMatchObject({ method: "GET", path: "/api/trpc/platform.stats", status: 200, actor: "anonymous" });

    // A header that is not a plain token (spaces, quotes, far too long) is replaced, not echoed.
    for (const sent of ['x" injected', "a".repeat(500)]) {
      const res = await fetch(`${app.baseUrl}/api/v1/platform/stats`, { headers: { "X-Request-Id": sent } });
      const id = res.headers.get("x-request-id")!;
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(await accessLine(id)).toMatchObject({ path: "/api/v1/platform/stats", status: 200 });
    }

    const missing = await fetch(`${app.baseUrl}/api/v1/jobs/00000000-0000-4000-8000-000000000000`, { headers: { "X-Request-Id": "missing-job-1" } });
    expect(missing.status).toBe(404);
    // The job the call names labels its lines, the access line included.
    expect(await accessLine("missing-job-1")).toMatchObject({ status: 404, path: "/api/v1/jobs/00000000-0000-4000-8000-000000000000", jobId: "00000000-0000-4000-8000-000000000000" });

    const unknownRoute = await fetch(`${app.baseUrl}/nothing-here`, { headers: { "X-Request-Id": "unknown-route-1" } });
    expect(unknownRoute.status).toBe(404);
    expect(unknownRoute.headers.get("x-request-id")).toBe("unknown-route-1");
    expect(await accessLine("unknown-route-1")).toMatchObject({ path: "/nothing-here", status: 404 });

    const cookie = await ownerSession(`log-owner-${randomBytes(4).toString("hex")}@example.com`, "a long enough password");
    const me = await fetch(`${app.baseUrl}/api/v1/owners/me`, { headers: { Cookie: cookie, "X-Request-Id": "owner-call-1" } });
    expect(me.status).toBe(200);
    const { owner_id } = (await me.json()) as { owner_id: string };
    expect(await accessLine("owner-call-1")).toMatchObject({ actor: "owner", ownerId: owner_id, status: 200 });
  });

  it("logs pages served through the app server, and the doors when Next serves them alone", async () => {
    const { createAppServer, listen } = await import("~/server/http/app-server");
    const pages = createAppServer({
      pageHandler: (_req, res) => {
        res.writeHead(200, { "Content-Type": "text/html" });
        res.end("<p>a page</p>");
      },
    });
    const port = await listen(pages, 0, "127.0.0.1");
    try {
      const page = await fetch(`http://127.0.0.1:${port}/jobs?callbackUrl=%2Fadmin&status=open`);
      expect(page.status).toBe(200);
      const id = page.headers.get("x-request-id")!;
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      const line = await accessLine(id);
      expect(line).toMatchObject({ method: "GET", path: "/jobs", status: 200, clientAddress: "127.0.0.1" });
      expect(line.query).toBe("callbackUrl=%5Bredacted%5D&status=open");
    } finally {
      await new Promise((resolve) => pages.close(resolve));
    }

    const { handleRestRequest } = await import("~/server/http/handlers");
    const alone = await handleRestRequest(new Request("http://market.test/api/v1/platform/stats", { headers: { "X-Request-Id": "next-alone-1" } }));
    expect(alone.status).toBe(200);
    expect(alone.headers.get("x-request-id")).toBe("next-alone-1");
    expect(await accessLine("next-alone-1")).toMatchObject({ method: "GET", path: "/api/v1/platform/stats", status: 200, actor: "anonymous" });
  });
});

describe("request ids in background work", () => {
  it("the payout's 'transfer broadcast' line carries the request id of the verdict that caused it", async () => {
    const buyer = await app.registerAgent("log-buyer", { wallet: true });
    const worker = await app.registerAgent("log-worker", { wallet: true });
    const taskId = await createFundedJob(app, buyer, "4");
    expect((await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey })).status).toBe(200);
    const sub = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "the summary" } });
    expect(sub.status).toBe(202);

    const verdictId = `verdict-${randomBytes(6).toString("hex")}`;
    const verdict = await app.api("POST", `/submissions/${sub.body.submission_id}/verdict`, { key: buyer.apiKey, body: { passed: true, score: 90, reason: "good" }, headers: { "X-Request-Id": verdictId } });
    expect(verdict.status, JSON.stringify(verdict.body)).toBe(200);
    expect(await accessLine(verdictId)).toMatchObject({ method: "POST", status: 200, actor: "agent", agentId: "log-buyer", submissionId: sub.body.submission_id });

    const payout = await app.db.transfer.findFirstOrThrow({ where: { jobId: taskId, kind: "payout" } });
    const broadcast = await app.waitFor("the payout's broadcast line", async () => output.lines().find((l) => l.msg === "transfer broadcast" && l.transferId === payout.id), 30_000);
    // Sent by the background runner, not the request: its run, under the verdict's request id.
    expect(broadcast).toMatchObject({ level: "info", requestId: verdictId, fn: "sendTransfer", jobId: taskId, transferId: payout.id, kind: "payout" });
    expect(typeof broadcast.workId).toBe("string");
    expect(broadcast.actor).toBeUndefined();
    // The fee goes out the same way.
    const fee = await app.db.transfer.findFirstOrThrow({ where: { jobId: taskId, kind: "fee" } });
    expect(await app.waitFor("the fee's broadcast line", async () => output.lines().find((l) => l.msg === "transfer broadcast" && l.transferId === fee.id), 30_000)).toMatchObject({ requestId: verdictId, jobId: taskId });
  });

  it("travels beside the payload through the jobs client and is restored by the Inngest runner too", async () => {
    const { InngestTestEngine } = await import("@inngest/test");
    const { toInngestFunction } = await import("~/server/jobs/inngest");
    const { sendTransferFunction } = await import("~/server/jobs/functions/send-transfer");
    const { setDispatcher } = await import("~/server/jobs/client");
    const buyer = await app.registerAgent("log-inngest-buyer", { wallet: true });
    const worker = await app.registerAgent("log-inngest-worker", { wallet: true });
    const taskId = await createFundedJob(app, buyer, "4");
    await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey });
    const sub = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "the summary" } });
    // No pg-boss: what the verdict queues is caught as Inngest would receive it.
    const restart = await app.stopRunner();
    const sent: { name: string; payload: Record<string, unknown> }[] = [];
    setDispatcher({ send: async (name, payload) => void sent.push({ name, payload: payload as Record<string, unknown> }) });
    try {
      const verdictId = `inngest-verdict-${randomBytes(4).toString("hex")}`;
      const verdict = await app.api("POST", `/submissions/${sub.body.submission_id}/verdict`, { key: buyer.apiKey, body: { passed: true, reason: "good" }, headers: { "X-Request-Id": verdictId } });
      expect(verdict.status).toBe(200);
      const payout = await app.db.transfer.findFirstOrThrow({ where: { jobId: taskId, kind: "payout" } });
      const queued = sent.find((s) => s.name === "payouts/send-transfer" && s.payload.transferId === payout.id);
      // Beside the payload, not in it.
      expect(queued?.payload).toEqual({ transferId: payout.id, _context: { requestId: verdictId } });

      const run = await new InngestTestEngine({ function: toInngestFunction(sendTransferFunction as never), events: [{ name: queued!.name, data: queued!.payload }] }).execute();
      expect(run.error).toBeUndefined();
      const broadcast = await app.waitFor("the Inngest run's broadcast line", async () => output.lines().find((l) => l.msg === "transfer broadcast" && l.transferId === payout.id));
      expect(broadcast).toMatchObject({ requestId: verdictId, fn: "sendTransfer", jobId: taskId, attempt: 1 });
      expect(typeof broadcast.workId).toBe("string");
    } finally {
      await restart();
    }
  });
});

describe("no secrets in the logs", () => {
  it("keeps API keys, Authorization headers, cookies, passwords, webhook secrets, signed transactions and private keys out of every line", async () => {
    const secrets: string[] = [];
    const keep = (value: string) => {
      secrets.push(value);
      return value;
    };
    const agent = await app.registerAgent("secret-keeper", { wallet: true });
    keep(agent.apiKey);
    keep(agent.privateKey!);
    keep(app.opsKey);
    keep(app.opsKey.slice(2));

    // Valid and invalid credentials, in every place a client puts them.
    const bogusKey = keep(`am_live_${randomBytes(16).toString("hex")}`);
    expect((await app.api("GET", "/jobs", { key: bogusKey, headers: { "X-Request-Id": "bogus-key-1" } })).status).toBe(401);
    const basic = keep(Buffer.from(`someone:${randomBytes(8).toString("hex")}`).toString("base64"));
    expect((await app.api("GET", "/jobs", { headers: { Authorization: `Basic ${basic}`, "X-Request-Id": "basic-auth-1" } })).status).toBe(401);
    const queryKey = keep(`am_live_${randomBytes(16).toString("hex")}`);
    const queryToken = keep(randomBytes(20).toString("hex"));
    expect((await app.api("GET", `/jobs?api_key=${queryKey}&token=${queryToken}&limit=1`, { key: agent.apiKey, headers: { "X-Request-Id": "query-secrets-1" } })).status).toBe(200);
    // A request id that is itself a key is scrubbed like any text.
    const keyAsRequestId = keep(`am_live_${randomBytes(16).toString("hex")}`);
    await app.api("GET", "/platform/stats", { headers: { "X-Request-Id": keyAsRequestId } });

    // Passwords and session cookies.
    const password = keep(`pw-${randomBytes(12).toString("hex")}`);
    const cookie = await ownerSession(`secret-owner-${randomBytes(4).toString("hex")}@example.com`, password);
    keep(cookie.split("=")[1]!);
    expect((await fetch(`${app.baseUrl}/api/v1/owners/me`, { headers: { Cookie: cookie, "X-Request-Id": "cookie-1" } })).status).toBe(200);
    const forgedCookie = keep(randomBytes(40).toString("base64url"));
    await fetch(`${app.baseUrl}/api/trpc/owners.me`, { headers: { Cookie: `next-auth.session-token=${forgedCookie}; next-auth.csrf-token=${keep(randomBytes(20).toString("hex"))}` } });
    const shortPassword = keep(`p${randomBytes(2).toString("hex")}`);
    expect((await app.api("POST", "/owners", { body: { email: "short@example.com", name: "Short", password: shortPassword } })).status).toBe(400);
    // Secret-looking fields in a body (refused or ignored; never logged).
    const bodyKey = keep(`0x${randomBytes(32).toString("hex")}`);
    await app.api("POST", "/jobs", { key: agent.apiKey, body: { title: "x", private_key: bodyKey, password: bodyKey } });

    // A webhook's secret, and deliveries signed with it.
    const receiver = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(200).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    try {
      const hook = await app.api("POST", `/agents/${agent.agentId}/webhooks`, { key: agent.apiKey, body: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` } });
      expect(hook.status, JSON.stringify(hook.body)).toBe(201);
      keep(hook.body.secret);
      keep(hook.body.secret.replace(/^whsec_/, ""));
      expect((await app.api("POST", `/agents/${agent.agentId}/webhooks/${hook.body.webhook_id}/test`, { key: agent.apiKey })).status).toBe(202);
      await app.waitFor("the test event delivered", async () => (await app.db.webhookDelivery.findFirst({ where: { webhookId: hook.body.webhook_id, status: "delivered" } })) !== null);
    } finally {
      await new Promise((resolve) => receiver.close(resolve));
    }

    // Signed transaction bytes, where they are most likely to leak: an RPC error that quotes
    // the eth_sendRawTransaction request. The node refuses the refund's broadcast; the request
    // logs the error, the background runner retries, and the refund goes out once it accepts.
    const taskId = await createFundedJob(app, agent, "3");
    expect((await app.api("POST", `/jobs/${taskId}/cancel`, { key: agent.apiKey })).status).toBe(200);
    rpc.refusing = true;
    const refund = await app.api("POST", `/jobs/${taskId}/refund`, { key: agent.apiKey, headers: { "X-Request-Id": "refused-refund-1" } });
    expect(refund.status, JSON.stringify(refund.body)).toBe(200);
    const inline = await app.waitFor("the inline send's warning", async () => output.lines().find((l) => l.msg === "transfer could not be sent inline; queued for the background runner" && l.requestId === "refused-refund-1"));
    expect(rpc.refused).toBeGreaterThan(0);
    // The error is there, with the request body it quoted, minus the bytes.
    expect(inline.error).toContain("eth_sendRawTransaction");
    expect(inline.error).toContain("0x[redacted]");
    rpc.refusing = false;
    const sent = await app.waitFor("the refund final", async () => {
      const row = await app.db.transfer.findFirst({ where: { jobId: taskId, kind: "refund", status: "success" } });
      return row ?? undefined;
    }, 60_000);
    keep(sent.signedTx!);
    for (const t of await app.db.transfer.findMany({ where: { signedTx: { not: null } } })) keep(t.signedTx!);

    // And whatever the code itself might pass a logger: fields named for secrets, text holding one.
    const { log } = await import("~/server/log");
    const loggedKey = keep(`am_live_${randomBytes(16).toString("hex")}`);
    log.error(`could not use ${loggedKey}`, { password: keep("hunter2-hunter2"), webhookSecret: keep("whsec_c2VjcmV0c2VjcmV0"), nested: { privateKey: keep(`0x${randomBytes(32).toString("hex")}`) }, error: `signing with ${app.opsKey} failed` });

    const text = output.text();
    expect(text).toContain("could not use am_live_[redacted]");
    expect(text).toContain("signing with [redacted] failed");
    for (const id of ["bogus-key-1", "basic-auth-1", "query-secrets-1", "cookie-1"]) expect(text, id).toContain(`"requestId":"${id}"`);
    for (const secret of secrets) expect(text.includes(secret), `a secret reached the log: ${secret.slice(0, 12)}…`).toBe(false);
  });
});
