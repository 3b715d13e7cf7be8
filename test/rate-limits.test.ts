import { encode } from "next-auth/jwt";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientAddressOf } from "~/server/rate-limit/client-address";
import { startTestApp, type RegisteredAgent, type TestApp } from "./support/app";
import { createFundedJob } from "./support/jobs";
import { spawnAppServer, type SpawnedAppServer } from "./support/spawn-app-server";

// Rate limits (#7 item 6) with the budgets a deployment gets by default: empty settings fall
// back to the defaults in src/env.ts. Other suites run with generous budgets (support/app.ts).
const DEFAULT_RATE_LIMITS = {
  RATE_LIMIT_READS_PER_MINUTE: "",
  RATE_LIMIT_WRITES_PER_MINUTE: "",
  RATE_LIMIT_SUBMISSIONS_PER_MINUTE: "",
  RATE_LIMIT_OWNER_READS_PER_MINUTE: "",
  RATE_LIMIT_OWNER_WRITES_PER_MINUTE: "",
  RATE_LIMIT_ADDRESS_PER_MINUTE: "",
  RATE_LIMIT_SIGNUPS_PER_HOUR: "",
  RATE_LIMIT_FAUCET_PER_HOUR: "",
};
const ADMIN = "rl-admin";

let app: TestApp;
let databaseUrl: string;
/** Sign-ups from this file's address so far: agents, owners and API keys each spend one. */
let registered = 0;
let ownerCookie = "";
const spawned: SpawnedAppServer[] = [];

beforeAll(async () => {
  app = await startTestApp({ adminAgentIds: [ADMIN], extraEnv: DEFAULT_RATE_LIMITS });
  databaseUrl = process.env.DATABASE_URL!;
});

afterAll(async () => {
  await Promise.all(spawned.map((s) => s.stop()));
  await app?.stop();
});

/** Registrations spend this address's sign-up budget (20 an hour): every test's agents are counted. */
async function agent(name: string, opts: { wallet?: boolean } = {}): Promise<RegisteredAgent & { privateKey?: `0x${string}` }> {
  registered++;
  return app.registerAgent(`${name}-${registered}`, opts);
}

/** `"reads";r=59;t=60` -> { reads: { r: 59, t: 60 } } */
function parseRateLimit(header: string | null): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const item of (header ?? "").split(/,\s*/).filter(Boolean)) {
    const [name, ...params] = item.split(";");
    out[JSON.parse(name!)] = Object.fromEntries(params.map((p) => p.split("=")).map(([k, v]) => [k!, Number(v)]));
  }
  return out;
}

async function get(baseUrl: string, path: string, key?: string) {
  const res = await fetch(`${baseUrl}/api/v1${path}`, { headers: key ? { Authorization: `Bearer ${key}` } : {} });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

function expectRefused(res: { status: number; headers: Headers; body: any }, policy: string, limit: number, windowSeconds: number) {
  expect(res.status, JSON.stringify(res.body)).toBe(429);
  expect(res.body.error).toMatchObject({ code: "RATE_LIMITED", details: { policy, limit, window_seconds: windowSeconds } });
  const retryAfter = Number(res.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
  expect(parseRateLimit(res.headers.get("ratelimit-policy"))[policy]).toEqual({ q: limit, w: windowSeconds });
  expect(parseRateLimit(res.headers.get("ratelimit"))[policy]).toEqual({ r: 0, t: retryAfter });
}

describe("rate limits per API key", () => {
  it("answers the 61st read in a minute with 429, Retry-After and RateLimit headers; every answer carries the headers", async () => {
    const reader = await agent("reader");
    for (let i = 1; i <= 60; i++) {
      const res = await app.api("GET", `/agents/${reader.agentId}`, { key: reader.apiKey });
      expect(res.status).toBe(200);
      expect(parseRateLimit(res.headers.get("ratelimit-policy")).reads).toEqual({ q: 60, w: 60 });
      const state = parseRateLimit(res.headers.get("ratelimit")).reads!;
      expect(state.r).toBe(60 - i);
      expect(state.t).toBeGreaterThan(0);
      expect(state.t).toBeLessThanOrEqual(60);
      expect(res.headers.get("retry-after")).toBeNull();
    }
    const refused = await app.api("GET", `/jobs`, { key: reader.apiKey });
    expectRefused(refused, "reads", 60, 60);

    // Reads are spent, writes are not: they have their own budget.
    const write = await app.api("PATCH", `/agents/${reader.agentId}`, { key: reader.apiKey, body: { name: "still writing" } });
    expect(write.status).toBe(200);
    expect(parseRateLimit(write.headers.get("ratelimit")).writes!.r).toBe(19);
  });

  it("answers the 21st write in a minute with 429", async () => {
    const writer = await agent("writer");
    for (let i = 1; i <= 20; i++) {
      const res = await app.api("PATCH", `/agents/${writer.agentId}`, { key: writer.apiKey, body: { name: `name ${i}` } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    const refused = await app.api("PATCH", `/agents/${writer.agentId}`, { key: writer.apiKey, body: { name: "one too many" } });
    expectRefused(refused, "writes", 20, 60);
    // Refused before the procedure ran: the 20th name stands.
    expect((await app.api("GET", `/agents/${writer.agentId}`, { key: writer.apiKey })).body.name).toBe("name 20");
    // Bad input and failing calls count too: validation runs after the budget.
    const other = await agent("writer-bad-input");
    for (let i = 0; i < 20; i++) expect((await app.api("POST", "/jobs", { key: other.apiKey, body: { title: "" } })).status).toBe(400);
    expectRefused(await app.api("POST", "/jobs", { key: other.apiKey, body: { title: "" } }), "writes", 20, 60);
  });

  it("gives submissions their own, stricter budget: the 11th submission in a minute never reaches the job", async () => {
    const buyer = await agent("sub-buyer", { wallet: true });
    const worker = await agent("sub-worker", { wallet: true });
    const taskId = await createFundedJob(app, buyer, "10", { max_submissions: 50, max_retries: 50 });
    expect((await app.api("POST", `/jobs/${taskId}/claim`, { key: worker.apiKey })).status).toBe(200);
    for (let i = 1; i <= 10; i++) {
      const res = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: `attempt ${i}` } });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      expect(parseRateLimit(res.headers.get("ratelimit")).submissions!.r).toBe(10 - i);
    }
    const refused = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "attempt 11" } });
    expectRefused(refused, "submissions", 10, 60);
    const job = await app.api("GET", `/jobs/${taskId}`, { key: buyer.apiKey });
    expect(job.body.submission_count).toBe(10);
    // The worker's other writes are still allowed.
    expect((await app.api("PATCH", `/agents/${worker.agentId}`, { key: worker.apiKey, body: { name: "worker" } })).status).toBe(200);
  });

  it("counts each call of a batched tRPC request: a batch of 100 reads gets 60 answers and 40 refusals", async () => {
    const batcher = await agent("batcher");
    const paths = Array.from({ length: 100 }, () => "platform.stats").join(",");
    const res = await fetch(`${app.baseUrl}/api/trpc/${paths}?batch=1&input=${encodeURIComponent("{}")}`, { headers: { Authorization: `Bearer ${batcher.apiKey}` } });
    const results = (await res.json()) as Array<{ result?: unknown; error?: { data?: { appCode?: string; httpStatus?: number } } }>;
    expect(results).toHaveLength(100);
    expect(results.filter((r) => r.result).length).toBe(60);
    const refused = results.filter((r) => r.error);
    expect(refused.length).toBe(40);
    for (const r of refused) expect(r.error!.data).toMatchObject({ appCode: "RATE_LIMITED", httpStatus: 429 });
    expect(res.status).toBe(207);
    expect(parseRateLimit(res.headers.get("ratelimit")).reads).toMatchObject({ r: 0 });
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // The batch spent the key's reads for the REST door too.
    expectRefused(await app.api("GET", "/platform/stats", { key: batcher.apiKey }), "reads", 60, 60);
    // A one-call tRPC request that is refused is a plain 429.
    const single = await fetch(`${app.baseUrl}/api/trpc/platform.stats`, { headers: { Authorization: `Bearer ${batcher.apiKey}` } });
    expect(single.status).toBe(429);
    expect(single.headers.get("retry-after")).not.toBeNull();
  });

  it("lets an admin set one key's limits (shown in the key listing); an agent cannot raise its own", async () => {
    const admin = await app.registerAgent(ADMIN);
    registered++;
    const member = await agent("member");
    const keys = await app.api("GET", `/agents/${member.agentId}/api-keys`, { key: member.apiKey });
    const keyId = keys.body.api_keys[0].key_id as string;
    expect(keys.body.api_keys[0]).toMatchObject({
      rate_limits: { reads_per_minute: 60, writes_per_minute: 20, submissions_per_minute: 10 },
      rate_limit_overrides: { reads_per_minute: null, writes_per_minute: null, submissions_per_minute: null },
    });

    // The agent itself, its own key: refused, and nothing changed.
    const own = await app.api("PATCH", `/admin/api-keys/${keyId}`, { key: member.apiKey, body: { reads_per_minute: 100000 } });
    expect(own.status).toBe(403);
    expect(own.body.error.code).toBe("FORBIDDEN");
    expect((await app.api("PATCH", `/admin/api-keys/${keyId}`, { body: { reads_per_minute: 100000 } })).status).toBe(401);

    // A second key of the agent, raised by the admin before its first use.
    const second = await app.api("POST", `/agents/${member.agentId}/api-keys`, { key: member.apiKey });
    registered++;
    expect(second.status).toBe(201);
    expect(second.body.rate_limits).toEqual({ reads_per_minute: 60, writes_per_minute: 20, submissions_per_minute: 10 });
    const bad = await app.api("PATCH", `/admin/api-keys/${second.body.key_id}`, { key: admin.apiKey, body: { reads_per_minute: 0 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.fields).toHaveProperty("reads_per_minute");
    const raised = await app.api("PATCH", `/admin/api-keys/${second.body.key_id}`, { key: admin.apiKey, body: { reads_per_minute: 100 } });
    expect(raised.status, JSON.stringify(raised.body)).toBe(200);
    expect(raised.body).toMatchObject({
      key_id: second.body.key_id,
      agent_id: member.agentId,
      rate_limits: { reads_per_minute: 100, writes_per_minute: 20, submissions_per_minute: 10 },
      rate_limit_overrides: { reads_per_minute: 100, writes_per_minute: null, submissions_per_minute: null },
    });
    const listed = await app.api("GET", `/agents/${member.agentId}/api-keys`, { key: member.apiKey });
    expect(listed.body.api_keys.find((k: any) => k.key_id === second.body.key_id).rate_limits.reads_per_minute).toBe(100);
    expect(listed.body.api_keys.find((k: any) => k.key_id === keyId).rate_limits.reads_per_minute).toBe(60);

    const raisedKey = second.body.api_key as string;
    for (let i = 1; i <= 100; i++) expect((await app.api("GET", "/platform/stats", { key: raisedKey })).status).toBe(200);
    expectRefused(await app.api("GET", "/platform/stats", { key: raisedKey }), "reads", 100, 60);

    // null returns the key to the default; it applies from the next request (60 already spent).
    const reset = await app.api("PATCH", `/admin/api-keys/${second.body.key_id}`, { key: admin.apiKey, body: { reads_per_minute: null } });
    expect(reset.body.rate_limit_overrides.reads_per_minute).toBeNull();
    expectRefused(await app.api("GET", "/platform/stats", { key: raisedKey }), "reads", 60, 60);
    expect((await app.api("PATCH", "/admin/api-keys/2d4f6a8c-1b3e-4d5f-9a7c-8e6b4d2f0a1c", { key: admin.apiKey, body: { reads_per_minute: 5 } })).status).toBe(404);
  });
});

describe("rate limits per console owner and per client address", () => {
  it("gives a console owner a budget of their own", async () => {
    const signedUp = await app.api("POST", "/owners", { body: { email: "rl-owner@example.com", name: "Owner", password: "correct horse battery" } });
    registered++;
    expect(signedUp.status).toBe(201);
    const { getEnv } = await import("~/env");
    const token = await encode({ token: { ownerId: signedUp.body.owner_id, email: "rl-owner@example.com" }, secret: getEnv().NEXTAUTH_SECRET });
    const cookie = `next-auth.session-token=${token}`;
    ownerCookie = cookie;
    for (let i = 1; i <= 120; i++) expect((await app.api("GET", "/owners/me", { headers: { Cookie: cookie } })).status).toBe(200);
    expectRefused(await app.api("GET", "/owners/me", { headers: { Cookie: cookie } }), "owner-reads", 120, 60);
  });

  it("counts requests without a key per address, and a bad key like none", async () => {
    // Earlier tests sent the odd call without credentials from this address: start from what is left.
    const first = await get(app.baseUrl, "/platform/stats");
    expect(first.status).toBe(200);
    expect(parseRateLimit(first.headers.get("ratelimit-policy")).address).toEqual({ q: 60, w: 60 });
    const left = parseRateLimit(first.headers.get("ratelimit")).address!.r!;
    expect(left).toBeGreaterThanOrEqual(50);
    for (let i = 0; i < left; i++) {
      const res = i % 2 === 0 ? await get(app.baseUrl, "/platform/stats") : await get(app.baseUrl, "/platform/stats", "am_live_not_a_real_key");
      expect(res.status).toBe(i % 2 === 0 ? 200 : 401);
      expect(parseRateLimit(res.headers.get("ratelimit")).address!.r).toBe(left - i - 1);
    }
    expectRefused(await get(app.baseUrl, "/jobs"), "address", 60, 60);
    expectRefused(await get(app.baseUrl, "/jobs", "am_live_not_a_real_key"), "address", 60, 60);
  });
});

describe("several app instances on one database", () => {
  it("share one budget: reads spent on one server count on the other", async () => {
    const second = await spawnAppServer();
    spawned.push(second);
    const shared = await agent("shared");
    for (let i = 0; i < 30; i++) {
      expect((await get(app.baseUrl, "/platform/stats", shared.apiKey)).status).toBe(200);
      const res = await get(second.baseUrl, "/platform/stats", shared.apiKey);
      expect(res.status).toBe(200);
      // Each instance takes points from the store in small batches: what it reports left already
      // counts what the other took.
      if (i === 0) expect(parseRateLimit(res.headers.get("ratelimit")).reads!.r).toBeLessThan(59);
    }
    expectRefused(await get(second.baseUrl, "/platform/stats", shared.apiKey), "reads", 60, 60);
    expectRefused(await get(app.baseUrl, "/platform/stats", shared.apiKey), "reads", 60, 60);
  });

  it("share one budget in Redis with REDIS_URL set (redis://127.0.0.1:6379 unless the test run sets one)", async () => {
    const redisUrl = process.env.REDIS_URL || "redis://127.0.0.1:6379";
    const prefix = `rl-test-${process.pid}-${Date.now()}`;
    const env = { REDIS_URL: redisUrl, RATE_LIMIT_KEY_PREFIX: prefix };
    const [one, two] = await Promise.all([spawnAppServer(env), spawnAppServer(env)]);
    spawned.push(one!, two!);
    const viaRedis = await agent("via-redis");
    for (let i = 0; i < 30; i++) {
      expect((await get(one!.baseUrl, "/platform/stats", viaRedis.apiKey)).status).toBe(200);
      expect((await get(two!.baseUrl, "/platform/stats", viaRedis.apiKey)).status).toBe(200);
    }
    expectRefused(await get(one!.baseUrl, "/platform/stats", viaRedis.apiKey), "reads", 60, 60);
    expectRefused(await get(two!.baseUrl, "/platform/stats", viaRedis.apiKey), "reads", 60, 60);

    // The counter is in Redis, and not in Postgres.
    const keyId = (await app.db.apiKey.findFirstOrThrow({ where: { agentId: viaRedis.agentId } })).id;
    const redis = new Redis(redisUrl);
    try {
      expect(Number(await redis.get(`${prefix}:reads:key:${keyId}`))).toBeGreaterThanOrEqual(61);
      await redis.del(`${prefix}:reads:key:${keyId}`);
    } finally {
      redis.disconnect();
    }
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query("SELECT count(*)::int AS n FROM rate_limits WHERE key LIKE $1", [`%${keyId}`]);
      expect(rows[0].n).toBe(0);
    } finally {
      await client.end();
    }
  });
});

describe("sign-ups per client address", () => {
  it("refuses registration, owner sign-up, new owned agents and new keys past the address's hourly budget; X-Forwarded-For does not help", async () => {
    // Every agent and owner created above came from this address.
    const first = await app.api("POST", "/agents", { body: { name: "signup probe" } });
    registered++;
    expect(first.status).toBe(201);
    expect(parseRateLimit(first.headers.get("ratelimit-policy")).signups).toEqual({ q: 20, w: 3600 });
    const left = parseRateLimit(first.headers.get("ratelimit")).signups!.r!;
    expect(left).toBe(20 - registered);
    for (let i = 0; i < left; i++) expect((await app.api("POST", "/agents", { body: { name: `signup ${i}` } })).status).toBe(201);
    expectRefused(await app.api("POST", "/agents", { body: { name: "one too many" } }), "signups", 20, 3600);
    expectRefused(await app.api("POST", "/owners", { body: { email: "late@example.com", name: "Late", password: "correct horse battery" } }), "signups", 20, 3600);
    // Without TRUST_PROXY the header is the client's own word.
    expectRefused(await app.api("POST", "/agents", { body: { name: "spoofed" }, headers: { "X-Forwarded-For": "198.51.100.23" } }), "signups", 20, 3600);
    // Credentials do not lift the address's sign-up budget, and neither mints budgets around it:
    // a new key or a new owned agent counts as a sign-up.
    const key = await agentKeyFromDatabase();
    expectRefused(await app.api("POST", "/agents", { key: key.apiKey, body: { name: "with a key" } }), "signups", 20, 3600);
    expectRefused(await app.api("POST", `/agents/${key.agentId}/api-keys`, { key: key.apiKey }), "signups", 20, 3600);
    expect(await app.db.apiKey.count({ where: { agentId: key.agentId } })).toBe(1);
    expectRefused(await app.api("POST", "/owners/me/agents", { headers: { Cookie: ownerCookie }, body: { name: "owned" } }), "signups", 20, 3600);
    // Other writes of the same key are not sign-ups.
    expect((await app.api("PATCH", `/agents/${key.agentId}`, { key: key.apiKey, body: { name: "renamed" } })).status).toBe(200);
  });

  it("with TRUST_PROXY=1 counts the address the proxy appended, not what the client wrote before it", async () => {
    const { resetEnv } = await import("~/env");
    process.env.TRUST_PROXY = "1";
    resetEnv();
    try {
      const viaProxy = (xff: string) => app.api("POST", "/agents", { body: { name: "behind a proxy" }, headers: { "X-Forwarded-For": xff } });
      const a = await viaProxy("203.0.113.7");
      expect(a.status).toBe(201);
      expect(parseRateLimit(a.headers.get("ratelimit")).signups!.r).toBe(19);
      // The client prepends an address of its choosing: the proxy's entry still decides.
      const spoof = await viaProxy("198.51.100.1, 203.0.113.7");
      expect(spoof.status).toBe(201);
      expect(parseRateLimit(spoof.headers.get("ratelimit")).signups!.r).toBe(18);
      const b = await viaProxy("203.0.113.8");
      expect(parseRateLimit(b.headers.get("ratelimit")).signups!.r).toBe(19);
    } finally {
      process.env.TRUST_PROXY = "0";
      resetEnv();
    }
  });
});

describe("clientAddressOf", () => {
  it("uses the socket unless proxies are trusted, folds IPv4-mapped IPv6 and counts IPv6 per /64", () => {
    expect(clientAddressOf({ peer: "::ffff:127.0.0.1", forwardedFor: "10.0.0.1", trustedProxies: 0 })).toBe("127.0.0.1");
    expect(clientAddressOf({ peer: "2001:db8:1:2:3:4:5:6", forwardedFor: null, trustedProxies: 0 })).toBe("2001:db8:1:2::/64");
    expect(clientAddressOf({ peer: "2001:db8:1:2:ffff::1", forwardedFor: null, trustedProxies: 0 })).toBe("2001:db8:1:2::/64");
    expect(clientAddressOf({ peer: "2001:db8:1:3::1", forwardedFor: null, trustedProxies: 0 })).toBe("2001:db8:1:3::/64");
    expect(clientAddressOf({ peer: "10.0.0.2", forwardedFor: "1.1.1.1, 203.0.113.9", trustedProxies: 1 })).toBe("203.0.113.9");
    expect(clientAddressOf({ peer: "10.0.0.2", forwardedFor: "1.1.1.1, 203.0.113.9, 10.0.0.1", trustedProxies: 2 })).toBe("203.0.113.9");
    expect(clientAddressOf({ peer: "10.0.0.2", forwardedFor: "203.0.113.9", trustedProxies: 3 })).toBe("203.0.113.9");
    expect(clientAddressOf({ peer: "10.0.0.2", forwardedFor: "not an address", trustedProxies: 1 })).toBe("10.0.0.2");
    expect(clientAddressOf({ peer: undefined, forwardedFor: "203.0.113.9", trustedProxies: 0 })).toBe("unknown");
  });
});

describe("the OpenAPI document", () => {
  it("lists 429 with the rate-limit headers for every operation", async () => {
    const doc = (await get(app.baseUrl, "/openapi.json")).body;
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(item)) {
        expect(op.responses["429"], `${method} ${path}`).toBeDefined();
        expect(Object.keys(op.responses["429"].headers ?? {}).sort(), `${method} ${path}`).toEqual(["RateLimit", "RateLimit-Policy", "Retry-After"]);
      }
    }
  });
});

/** A live agent and key, made straight in the database so no sign-up budget is needed. */
async function agentKeyFromDatabase(): Promise<{ agentId: string; apiKey: string }> {
  const { generateApiKeySecret } = await import("~/server/services/agents/api-key-secret");
  const secret = generateApiKeySecret();
  const made = await app.db.agent.create({ data: { id: `db-made-${Date.now()}`, name: "made in the database" } });
  await app.db.apiKey.create({ data: { agentId: made.id, prefix: secret.prefix, keyHash: secret.hash } });
  return { agentId: made.id, apiKey: secret.plaintext };
}
