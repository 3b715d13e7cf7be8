import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { encode } from "next-auth/jwt";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findRepoRoot } from "~/server/db/migrations";
import { startTestApp, type TestApp } from "./support/app";

// Issue 7, item 2: admin rights come only from someone who controls the deployment — the
// `npm run admin` command run on the server — never from signing up with an email or
// registering an agent id that some list names. The command runs here for real, as a child
// process against this file's database.

const root = findRepoRoot();
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(async () => {
  await app?.stop();
});

async function signUp(email: string, extra: Record<string, unknown> = {}) {
  const res = await app.api("POST", "/owners", { body: { email, name: "Someone", password: "correct horse battery", ...extra } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const { getEnv } = await import("~/env");
  const token = await encode({ token: { ownerId: res.body.owner_id, email }, secret: getEnv().NEXTAUTH_SECRET });
  return { ownerId: res.body.owner_id as string, body: res.body, cookie: `next-auth.session-token=${token}` };
}

function run(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(root, "node_modules", ".bin", "tsx"), [script, ...args], { cwd: root, env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** `npm run admin -- <args>` against this test file's database. */
const admin = (...args: string[]) => run("scripts/admin.ts", args, { ...process.env, DATABASE_URL: process.env.DATABASE_URL });

/** What an admin may do and others may not: the dispute queue, as an owner's session or an agent's key. */
const disputesAs = (auth: { cookie?: string; key?: string }) =>
  app.api("GET", "/disputes", { key: auth.key, headers: auth.cookie ? { Cookie: auth.cookie } : {} });

describe("no rights from an email or an agent id", () => {
  it("signing up with an address that used to be listed in ADMIN_OWNER_EMAILS gives no admin rights", async () => {
    // The addresses deployments listed, and docs/operations.md's example.
    for (const email of ["ops@example.com", "admin@e2e.agent-market.test"]) {
      const owner = await signUp(email, { is_admin: true });
      expect(owner.body.is_admin).toBe(false);
      const me = await app.api("GET", "/owners/me", { headers: { Cookie: owner.cookie } });
      expect(me.body).toMatchObject({ email, is_admin: false });
      expect((await disputesAs(owner)).status).toBe(403);
      expect((await app.api("GET", "/platform/solvency", { headers: { Cookie: owner.cookie } })).status).toBe(403);
    }
  });

  it("registering an agent with any id gives none", async () => {
    for (const agentId of ["admin", "root", "agents-admin", "dispute-admin", "retry-admin"]) {
      const res = await app.api("POST", "/agents", { body: { agent_id: agentId, name: agentId, is_admin: true } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect((await disputesAs({ key: res.body.api_key })).status).toBe(403);
      expect((await app.api("POST", "/admin/jobs/00000000-0000-4000-8000-000000000000/retry-payout", { key: res.body.api_key })).status).toBe(403);
      // Nor by editing its profile: the field is not part of it.
      const patched = await app.api("PATCH", `/agents/${agentId}`, { key: res.body.api_key, body: { is_admin: true } });
      expect(patched.status).toBe(400);
      expect((await disputesAs({ key: res.body.api_key })).status).toBe(403);
    }
  });
});

describe("npm run admin", () => {
  it("is the only way to grant and revoke, and the rights follow on the next request", async () => {
    const owner = await signUp("ada@example.com");
    const agent = await app.registerAgent("ops-bot");
    expect((await disputesAs(owner)).status).toBe(403);
    expect((await disputesAs({ key: agent.apiKey })).status).toBe(403);

    const grantOwner = await admin("grant-owner", "ADA@example.com");
    expect(grantOwner.code, grantOwner.stderr).toBe(0);
    expect(grantOwner.stdout).toContain("owner ada@example.com is now an admin");
    expect((await app.api("GET", "/owners/me", { headers: { Cookie: owner.cookie } })).body.is_admin).toBe(true);
    expect((await disputesAs(owner)).status).toBe(200);

    const grantAgent = await admin("grant-agent", "ops-bot");
    expect(grantAgent.code, grantAgent.stderr).toBe(0);
    expect(grantAgent.stdout).toContain("agent ops-bot is now an admin");
    expect((await disputesAs({ key: agent.apiKey })).status).toBe(200);

    const list = await admin("list");
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/owner {2}ada@example\.com/);
    expect(list.stdout).toMatch(/agent {2}ops-bot/);

    expect((await admin("revoke-owner", "ada@example.com")).code).toBe(0);
    expect((await admin("revoke-agent", "ops-bot")).code).toBe(0);
    expect((await disputesAs(owner)).status).toBe(403);
    expect((await disputesAs({ key: agent.apiKey })).status).toBe(403);
    expect((await app.api("GET", "/owners/me", { headers: { Cookie: owner.cookie } })).body.is_admin).toBe(false);
  });

  it("grants only to an account that exists, so nobody inherits a grant by signing up later", async () => {
    const early = await admin("grant-owner", "later@example.com");
    expect(early.code).toBe(1);
    expect(early.stderr).toContain("must sign up first");
    const later = await signUp("later@example.com");
    expect((await disputesAs(later)).status).toBe(403);

    const unknownAgent = await admin("grant-agent", "nobody-yet");
    expect(unknownAgent.code).toBe(1);
    expect(unknownAgent.stderr).toContain("not found");
    const registered = await app.api("POST", "/agents", { body: { agent_id: "nobody-yet", name: "Late" } });
    expect((await disputesAs({ key: registered.body.api_key })).status).toBe(403);

    const usage = await admin("make-admin", "x");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("grant-owner <email>");
  });

  it("works on the quick start's embedded Postgres, whether or not the app is running", async () => {
    const dataParent = path.join(root, ".data");
    await fs.mkdir(dataParent, { recursive: true });
    const dataDir = await fs.mkdtemp(path.join(dataParent, "test-admin-"));
    // As root, Postgres runs as the `postgres` user, which must reach the cluster (mkdtemp is 0700).
    await fs.chmod(dataDir, 0o755);
    const env = { ...process.env, DATABASE_URL: "", DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()) };
    const { embeddedPostgresDataDir, startEmbeddedPostgres } = await import("~/server/dev/embedded-postgres");
    const clusterDir = embeddedPostgresDataDir(path.join(dataDir, "postgres"));
    let running: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
    try {
      // Not running: the command starts the cluster (creating it), migrates, answers and stops it again.
      const cold = await run("scripts/admin.ts", ["list"], env);
      expect(cold.code, cold.stderr).toBe(0);
      expect(cold.stdout).toContain(`embedded Postgres in ${clusterDir}`);
      expect(cold.stdout).toContain("no admin owners");
      expect(existsSync(path.join(clusterDir, "PG_VERSION"))).toBe(true);
      expect(existsSync(path.join(clusterDir, "postmaster.pid"))).toBe(false);

      // Running (as `npm start` leaves it): the command uses it and leaves it running.
      running = await startEmbeddedPostgres({ dataDir: clusterDir });
      const client = new pg.Client({ connectionString: running.databaseUrl });
      await client.connect();
      try {
        await client.query("INSERT INTO owners (id, email, name, password_hash) VALUES (gen_random_uuid(), 'quick@example.com', 'Q', 'x')");
        const warm = await run("scripts/admin.ts", ["grant-owner", "quick@example.com"], env);
        expect(warm.code, warm.stderr).toBe(0);
        expect(warm.stdout).toContain("(running)");
        const { rows } = await client.query("SELECT is_admin FROM owners WHERE email = 'quick@example.com'");
        expect(rows).toEqual([{ is_admin: true }]);
      } finally {
        await client.end();
      }
    } finally {
      await running?.stop();
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe("the old settings", () => {
  it("stop start-up with a message naming the command to use instead", async () => {
    const base: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: "production", EMBEDDED_PARTS: "", NEXTAUTH_SECRET: "a test secret of enough length", ADMIN_AGENT_IDS: "", ADMIN_OWNER_EMAILS: "" };
    const owners = await run("scripts/start.ts", [], { ...base, ADMIN_OWNER_EMAILS: "ops@example.com" });
    expect(owners.code).toBe(1);
    expect(owners.stderr).toContain("Invalid configuration:");
    expect(owners.stderr).toContain("ADMIN_OWNER_EMAILS is no longer read");
    expect(owners.stderr).toContain("npm run admin -- grant-owner <email>");

    const agents = await run("scripts/start.ts", [], { ...base, ADMIN_AGENT_IDS: "ops-bot" });
    expect(agents.code).toBe(1);
    expect(agents.stderr).toContain("ADMIN_AGENT_IDS is no longer read");
    expect(agents.stderr).toContain("npm run admin -- grant-agent <agent_id>");

    // Left empty they are simply unset.
    const { parseEnv } = await import("~/env");
    expect(() => parseEnv(base)).not.toThrow();
    expect(() => parseEnv({ ...base, ADMIN_AGENT_IDS: "x" })).toThrow(/grant-agent/);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
