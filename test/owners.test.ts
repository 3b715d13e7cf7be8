import { encode } from "next-auth/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "./support/app";

// Owners are people signed in to the console (#50). The console's next-auth session is a
// signed JWT cookie; here we sign one the way next-auth does and send it like a browser would.
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(async () => {
  await app?.stop();
});

async function signUp(email: string) {
  const res = await app.api("POST", "/owners", { body: { email, name: email.split("@")[0], password: "correct horse battery" } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const { getEnv } = await import("~/env");
  const token = await encode({ token: { ownerId: res.body.owner_id, email }, secret: getEnv().NEXTAUTH_SECRET });
  return { ownerId: res.body.owner_id as string, cookie: `next-auth.session-token=${token}` };
}

describe("owners", () => {
  it("signs up, registers owned agents whose keys work, and manages only their own agents", async () => {
    const alice = await signUp("alice@example.com");
    const bob = await signUp("bob@example.com");
    const dup = await app.api("POST", "/owners", { body: { email: "ALICE@example.com", name: "A", password: "another password" } });
    expect(dup.status).toBe(409);
    expect(dup.body.error.message).toContain("email");
    expect((await app.api("POST", "/owners", { body: { email: "c@example.com", name: "C", password: "short" } })).body.error.message).toContain("password");

    const me = await app.api("GET", "/owners/me", { headers: { Cookie: alice.cookie } });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ email: "alice@example.com", agents: [] });
    expect((await app.api("GET", "/owners/me")).status).toBe(401);

    const created = await app.api("POST", "/owners/me/agents", { headers: { Cookie: alice.cookie }, body: { agent_id: "alices-bot", name: "Alice's bot" } });
    expect(created.status).toBe(201);
    expect(created.body.api_key).toMatch(/^am_live_/);
    expect(created.body.warnings[0]).toMatch(/wallet_address/);
    // The owned agent's key works like any agent's.
    const job = await app.api("POST", "/jobs", { key: created.body.api_key, body: { title: "T", description: "D", rubric: "R", price: "2", expiry: Math.floor(Date.now() / 1000) + 3600 } });
    expect(job.status).toBe(201);

    const keys = await app.api("GET", "/agents/alices-bot/api-keys", { headers: { Cookie: alice.cookie } });
    expect(keys.status).toBe(200);
    expect(keys.body.api_keys).toHaveLength(1);
    const extra = await app.api("POST", "/agents/alices-bot/api-keys", { headers: { Cookie: alice.cookie } });
    expect(extra.status).toBe(201);
    const renamed = await app.api("PATCH", "/agents/alices-bot", { headers: { Cookie: alice.cookie }, body: { name: "Alice's better bot" } });
    expect(renamed.body.name).toBe("Alice's better bot");

    // Bob owns nothing of Alice's: he can neither read nor change it.
    expect((await app.api("GET", "/agents/alices-bot/api-keys", { headers: { Cookie: bob.cookie } })).status).toBe(403);
    expect((await app.api("PATCH", "/agents/alices-bot", { headers: { Cookie: bob.cookie }, body: { name: "Bob's now" } })).status).toBe(403);
    expect((await app.api("POST", "/agents/alices-bot/deactivate", { headers: { Cookie: bob.cookie } })).status).toBe(403);
    expect((await app.api("GET", "/owners/me", { headers: { Cookie: bob.cookie } })).body.agents).toEqual([]);
    // An agent that is not owned cannot be managed by an owner either.
    await app.registerAgent("independent-bot");
    expect((await app.api("GET", "/agents/independent-bot/api-keys", { headers: { Cookie: alice.cookie } })).status).toBe(403);

    const revoked = await app.api("DELETE", `/agents/alices-bot/api-keys/${extra.body.key_id}`, { headers: { Cookie: alice.cookie } });
    expect(revoked.body.revoked_at).not.toBeNull();
    expect((await app.api("GET", "/jobs?buyer_id=me", { key: extra.body.api_key })).status).toBe(401);

    const deactivated = await app.api("POST", "/agents/alices-bot/deactivate", { headers: { Cookie: alice.cookie } });
    expect(deactivated.status).toBe(200);
    expect(deactivated.body.active).toBe(false);
    expect((await app.api("POST", "/jobs", { key: created.body.api_key, body: { title: "T", description: "D", rubric: "R", price: "2", expiry: Math.floor(Date.now() / 1000) + 3600 } })).status).toBe(401);
  });

  it("ignores a forged session cookie", async () => {
    const forged = await encode({ token: { ownerId: "00000000-0000-0000-0000-000000000000" }, secret: "some-other-secret-that-is-long" });
    const res = await app.api("GET", "/owners/me", { headers: { Cookie: `next-auth.session-token=${forged}` } });
    expect(res.status).toBe(401);
    const malformed = await app.api("GET", "/jobs", { headers: { Cookie: "next-auth.session-token=%E0%A4%A; other=1" } });
    expect(malformed.status).toBe(200);
  });

  it("checks passwords with the same answer for an unknown email and a wrong password", async () => {
    const { authenticateOwner } = await import("~/server/services/owners/manage-owners");
    await signUp("carol@example.com");
    expect(await authenticateOwner({ db: app.db, email: "carol@example.com", password: "wrong password" })).toBeNull();
    expect(await authenticateOwner({ db: app.db, email: "nobody@example.com", password: "correct horse battery" })).toBeNull();
    expect((await authenticateOwner({ db: app.db, email: "Carol@Example.com", password: "correct horse battery" }))?.email).toBe("carol@example.com");
  });
});
