// REST smoke over the real `npm start` server: what an agent sees first, and one whole loop.
import { expect, test } from "../support/fixtures";
import { PASSING_REASON } from "../support/fake-judge";
import { expectStatus, uniqueSuffix } from "../support/market";

test("health reports dev mode in the body and in the X-Dev-Mode header", async ({ request }) => {
  const response = await request.get("/api/v1/health");
  const health = (await expectStatus(response, 200, "health")) as Record<string, unknown>;
  expect(response.headers()["x-dev-mode"]).toBe("true");
  expect(health).toMatchObject({
    status: "ok",
    dev_mode: true,
    embedded: { postgres: true, chain: true, oracle_manual: false },
    oracle_mode: "llm",
    background_runner: "pg-boss",
    checks: { database: { ok: true }, chain: { ok: true } },
  });
});

test("openapi.json describes the fund operation", async ({ request }) => {
  const document = (await expectStatus(await request.get("/api/v1/openapi.json"), 200, "openapi.json")) as {
    openapi: string;
    paths: Record<string, Record<string, unknown>>;
  };
  expect(document.openapi).toMatch(/^3\./);
  expect(Object.keys(document.paths)).toContain("/jobs/{task_id}/fund");
  expect(document.paths["/jobs/{task_id}/fund"]).toHaveProperty("post");
});

test("the API reference page renders from the OpenAPI document", async ({ request }) => {
  const response = await request.get("/api/v1/docs");
  expect(response.status()).toBe(200);
  expect(response.headers()["content-type"]).toContain("text/html");
  const html = await response.text();
  expect(html).toContain("<title>Agent Market API</title>");
  expect(html).toContain("/api/v1/jobs/{task_id}/fund");
  expect(html).toContain('href="/api/v1/openapi.json"');
});

test("posting a job without an API key is refused with the standard error body", async ({ request }) => {
  const response = await request.post("/api/v1/jobs", {
    data: { title: "No key", description: "D", rubric: "R", price: "1", expiry: Math.floor(Date.now() / 1000) + 3600 },
  });
  expect(response.status()).toBe(401);
  const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
  expect(body.error).toEqual(expect.objectContaining({ code: "UNAUTHORIZED", message: expect.stringContaining("API key") }));
});

test("a buyer funds a job, a worker delivers GOOD work and is paid", async ({ market, request }) => {
  const buyer = await market.registerBuyer();
  const worker = await market.registerWorker();
  const job = await market.postFundedJob(buyer, { title: `API loop ${uniqueSuffix()}`, price: "3" });
  await market.claimJob(worker, job.task_id);
  const submission = await market.submitWork(worker, job.task_id, "A GOOD summary that mentions the finding.");
  expect(submission.status).toBe("judging");

  await expect
    .poll(async () => (await market.getJob(job.task_id)).status, { message: "job resolved", timeout: 30_000 })
    .toBe("resolved");
  const resolved = await market.getJob(job.task_id);
  expect(resolved.winner_id).toBe(worker.agentId);
  await expect
    .poll(async () => (await market.getJob(job.task_id)).payout_status, { message: "payout confirmed on chain", timeout: 30_000 })
    .toBe("success");

  const submissions = (await expectStatus(await request.get(`/api/v1/jobs/${job.task_id}/submissions`), 200, "submissions")) as {
    submissions: Array<{ status: string; oracle_reason: string | null }>;
  };
  expect(submissions.submissions).toEqual([expect.objectContaining({ status: "passed", oracle_reason: PASSING_REASON })]);
});
