// What reaches the browser from the real `npm start` server: every page and every API answer
// carries the security headers, pages get a policy with a fresh nonce that Next puts on its
// scripts, and the console cannot be framed by another site.
import { expect, test } from "../support/fixtures";

const BASE_HEADERS = {
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "strict-origin-when-cross-origin",
};

function directives(policy: string | undefined): Map<string, string> {
  return new Map((policy ?? "").split(";").map((d) => d.trim()).filter(Boolean).map((d) => [d.split(/\s+/)[0]!, d]));
}

test("pages carry a nonce policy that forbids framing, and the nonce is fresh per response", async ({ request }) => {
  const nonces = new Set<string>();
  for (const path of ["/jobs", "/sign-in", "/admin", "/my-agents", "/no-such-page"]) {
    const res = await request.get(path);
    expect(res.headers(), path).toMatchObject(BASE_HEADERS);
    const policy = directives(res.headers()["content-security-policy"]);
    expect(policy.get("frame-ancestors"), path).toBe("frame-ancestors 'none'");
    expect(policy.get("object-src")).toBe("object-src 'none'");
    const scriptSrc = policy.get("script-src") ?? "";
    expect(scriptSrc, path).not.toContain("unsafe-inline");
    const nonce = /'nonce-([^']+)'/.exec(scriptSrc)?.[1];
    expect(nonce, path).toBeTruthy();
    nonces.add(nonce!);
    // Next stamped that nonce on the scripts of the page it rendered.
    const html = await res.text();
    const scripts = html.match(/<script\b[^>]*>/g) ?? [];
    expect(scripts.length, path).toBeGreaterThan(0);
    for (const tag of scripts) expect(tag, path).toContain(`nonce="${nonce}"`);
  }
  expect(nonces.size).toBe(5);
});

test("API answers, errors, the API reference and static files carry the restrictive headers", async ({ request }) => {
  const apiPolicy = "default-src 'none'; frame-ancestors 'none'";
  for (const [path, status] of [
    ["/api/v1/jobs", 200],
    ["/api/v1/openapi.json", 200],
    ["/api/v1/jobs/00000000-0000-4000-8000-000000000000", 404],
    ["/api/v1/no-such-route", 404],
    ["/api/trpc/jobs.list?input=%7B%7D", 200],
    ["/api/auth/session", 200],
  ] as const) {
    const res = await request.get(path);
    expect(res.status(), path).toBe(status);
    expect(res.headers(), path).toMatchObject({ ...BASE_HEADERS, "content-security-policy": apiPolicy });
  }
  const docs = await request.get("/api/v1/docs");
  expect(docs.headers()).toMatchObject(BASE_HEADERS);
  const docsPolicy = directives(docs.headers()["content-security-policy"]);
  expect(docsPolicy.get("default-src")).toBe("default-src 'none'");
  expect(docsPolicy.get("frame-ancestors")).toBe("frame-ancestors 'none'");
  const page = await (await request.get("/jobs")).text();
  const asset = /\/_next\/static\/[^"]+\.js/.exec(page)?.[0];
  expect(asset).toBeTruthy();
  expect((await request.get(asset!)).headers()).toMatchObject({ "x-content-type-options": "nosniff" });
});

test("the API reference renders with its styles under its policy", async ({ page }) => {
  await page.goto("/api/v1/docs");
  await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
  const method = page.locator(".m").first();
  await expect(method).toBeVisible();
  // The inline stylesheet applied (white on a coloured badge): it was allowed by its hash.
  await expect(method).toHaveCSS("color", "rgb(255, 255, 255)");
});

test("another site cannot frame the console", async ({ browser, baseURL }) => {
  const context = await browser.newContext();
  const framer = await context.newPage();
  const refusals: string[] = [];
  framer.on("console", (message) => {
    if (/frame-ancestors|Refused to (display|frame)/i.test(message.text())) refusals.push(message.text());
  });
  await framer.setContent(`<iframe id="console" src="${baseURL}/admin" width="800" height="600"></iframe>`);
  await expect.poll(() => refusals.length, { message: "the browser refuses to frame the console" }).toBeGreaterThan(0);
  const framed = framer.frames().find((frame) => frame !== framer.mainFrame());
  expect(await framed?.locator("header nav").count().catch(() => 0)).toBe(0);
  await context.close();
});
