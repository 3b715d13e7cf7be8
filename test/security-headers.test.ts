import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "./support/app";

// The API doors answer with headers that keep a browser from framing, sniffing or running
// anything from them: every answer, success or error, REST or tRPC, and the server's own
// fallbacks. The console pages are checked against the real Next server in
// e2e/ui/security-headers.spec.ts.

const API_HEADERS = {
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "strict-origin-when-cross-origin",
};

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(async () => {
  await app?.stop();
});

const headersOf = (res: Response | { headers: Headers }) => Object.fromEntries(res.headers.entries());

describe("security headers on the API", () => {
  it("are on REST successes and errors of every kind", async () => {
    const agent = await app.registerAgent("headers-agent");
    const answers = [
      await app.api("GET", "/jobs"),
      await app.api("GET", "/openapi.json"),
      await app.api("POST", "/jobs", { key: agent.apiKey, body: { title: "" } }),
      await app.api("GET", "/jobs", { key: "am_live_not-a-real-key" }),
      await app.api("GET", "/no-such-route"),
      await app.api("POST", "/jobs", { key: agent.apiKey, body: "x".repeat(300 * 1024) }),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 400, 401, 404, 413]);
    for (const answer of answers) expect(headersOf(answer), String(answer.status)).toMatchObject(API_HEADERS);
  });

  it("are on tRPC answers and on the server's own fallbacks", async () => {
    for (const [path, status] of [
      ["/api/trpc/jobs.list?input=%7B%7D", 200],
      ["/api/trpc/no.such.procedure", 404],
      ["/not-an-api-path", 404],
    ] as const) {
      const res = await fetch(`${app.baseUrl}${path}`);
      expect(res.status, path).toBe(status);
      expect(headersOf(res), path).toMatchObject(API_HEADERS);
    }
    const tooLarge = await fetch(`${app.baseUrl}/api/trpc/jobs.create`, { method: "POST", body: "x".repeat(2 * 1024 * 1024) });
    expect(tooLarge.status).toBe(413);
    expect(headersOf(tooLarge)).toMatchObject(API_HEADERS);
  });

  it("let the API reference page use only its own stylesheet", async () => {
    const res = await fetch(`${app.baseUrl}/api/v1/docs`);
    expect(res.status).toBe(200);
    const html = await res.text();
    const policy = res.headers.get("content-security-policy")!;
    expect(policy).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*'; .*frame-ancestors 'none'$/);
    expect(html).not.toMatch(/<script/i);
    // The hash in the policy is the hash of the page's one <style> element, so the browser applies it.
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
    const { createHash } = await import("node:crypto");
    expect(policy).toContain(`'sha256-${createHash("sha256").update(style).digest("base64")}'`);
    expect(headersOf(res)).toMatchObject({ "x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "strict-origin-when-cross-origin" });
  });
});
