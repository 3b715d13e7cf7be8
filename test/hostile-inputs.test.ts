import { encode } from "next-auth/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type RegisteredAgent, type TestApp } from "./support/app";
import { createFundedJob, inAnHour } from "./support/jobs";

// Issue 7, item 7: bad input must never reach the database as a 500. The first test is generated
// from the OpenAPI document the server publishes: for every operation it sends, one field at a
// time, every applicable class of hostile value to every path parameter, query parameter and body
// field, with real credentials and real objects in every other field, so the value reaches the
// service code. Any 5xx fails it, listing the operation and the input. The tests after it are the
// reproductions from the issue, written out.

let app: TestApp;
let buyer: RegisteredAgent & { privateKey?: `0x${string}` };
let worker: RegisteredAgent;
let claimer: RegisteredAgent;
let leaver: RegisteredAgent;
let retiree: RegisteredAgent;
let admin: RegisteredAgent;
let ownerCookie: string;
let fundedJob: string; // buyer's; worker claimed it and submitted
let verdictJob: string; // buyer's; worker submits a fresh delivery for each verdict
let unclaimJob: string; // funded; the leaver claims it before each unclaim
let openJob: string; // buyer's, stays open
let submissionId: string;
let revocableKeyId: string;

beforeAll(async () => {
  app = await startTestApp({ adminAgentIds: ["hostile-admin"] });
  buyer = await app.registerAgent("hostile-buyer", { wallet: true });
  worker = await app.registerAgent("hostile-worker");
  claimer = await app.registerAgent("hostile-claimer");
  leaver = await app.registerAgent("hostile-leaver");
  retiree = await app.registerAgent("hostile-retiree");
  admin = await app.registerAgent("hostile-admin");
  ownerCookie = await signUpOwner("hostile-owner@example.com");
  fundedJob = await createFundedJob(app, buyer, "10", { max_submissions: 10_000, max_retries: 1_000 });
  unclaimJob = await createFundedJob(app, buyer, "10");
  // A verdict that passes must not resolve it: one worker can win only one of its 100 shares.
  verdictJob = await createFundedJob(app, buyer, "100", { max_submissions: 10_000, max_retries: 1_000, max_winners: 100 });
  expect((await app.api("POST", `/jobs/${verdictJob}/claim`, { key: worker.apiKey })).status).toBe(200);
  openJob = (await app.api("POST", "/jobs", { key: buyer.apiKey, body: jobBody() })).body.task_id;
  expect((await app.api("POST", `/jobs/${fundedJob}/claim`, { key: worker.apiKey })).status).toBe(200);
  submissionId = await submitFresh(fundedJob);
  const key = await app.api("POST", `/agents/${buyer.agentId}/api-keys`, { key: buyer.apiKey });
  revocableKeyId = key.body.key_id;
}, 60_000);

afterAll(async () => {
  await app?.stop();
});

function jobBody(extra: Record<string, unknown> = {}) {
  return { title: "T", description: "D", rubric: "R", price: "5", expiry: inAnHour(), ...extra };
}

async function signUpOwner(email: string): Promise<string> {
  const res = await app.api("POST", "/owners", { body: { email, name: "Owner", password: "correct horse battery" } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const { getEnv } = await import("~/env");
  const token = await encode({ token: { ownerId: res.body.owner_id, email }, secret: getEnv().NEXTAUTH_SECRET });
  return `next-auth.session-token=${token}`;
}

async function submitFresh(taskId: string): Promise<string> {
  const res = await app.api("POST", `/jobs/${taskId}/submit`, { key: worker.apiKey, body: { content: "a delivery" } });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.submission_id;
}

async function openDisputeId(): Promise<string> {
  const open = await app.db.dispute.findFirst({ where: { jobId: fundedJob, filedBy: buyer.agentId, status: "open" } });
  if (open) return open.id;
  const filed = await app.api("POST", `/jobs/${fundedJob}/dispute`, { key: buyer.apiKey, body: { reason: "the verdict was wrong" } });
  expect(filed.status, JSON.stringify(filed.body)).toBe(201);
  return filed.body.dispute_id;
}

async function liveWebhookId(): Promise<string> {
  const live = await app.db.webhook.findFirst({ where: { agentId: buyer.agentId, deletedAt: null } });
  if (live) return live.id;
  const created = await app.api("POST", `/agents/${buyer.agentId}/webhooks`, { key: buyer.apiKey, body: { url: "http://127.0.0.1:9/hook" } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.webhook_id;
}

/** A delivery of the live webhook (its test event). */
async function liveDeliveryId(): Promise<string> {
  const webhookId = await liveWebhookId();
  const existing = await app.db.webhookDelivery.findFirst({ where: { webhookId } });
  if (existing) return existing.id;
  const sent = await app.api("POST", `/agents/${buyer.agentId}/webhooks/${webhookId}/test`, { key: buyer.apiKey });
  expect(sent.status, JSON.stringify(sent.body)).toBe(202);
  return sent.body.delivery_id;
}

// ---------------------------------------------------------------------------------------------
// Hostile values. A value is JSON (`value`) or raw JSON text (`raw`, for nesting deeper than
// JSON.stringify can write); in a path or query it is sent as text, percent-encoded, or as is
// (`encoded`) for malformed escapes. `query` adds companion parameters a forged cursor needs.

interface Hostile {
  label: string;
  value?: unknown;
  raw?: string;
  encoded?: string;
  query?: Record<string, string>;
}

const deepArray = (depth: number) => `${"[".repeat(depth)}"x"${"]".repeat(depth)}`;
const deepObject = (depth: number) => `${'{"a":'.repeat(depth)}"x"${"}".repeat(depth)}`;
const deepSchema = (depth: number) => `${'{"type":"object","properties":{"a":'.repeat(depth)}{"type":"string"}${"}}".repeat(depth)}`;
const cursorOf = (payload: unknown) => Buffer.from(JSON.stringify(payload)).toString("base64url");
const UUID = "3f1c9a52-8a0e-4c52-9a43-5b2f0e7f1d10";

const v = (label: string, value: unknown): Hostile => ({ label, value });

/** Text any string field, path segment or query parameter may be sent. */
const TEXT: Hostile[] = [
  v("empty string", ""),
  v("blank", "   "),
  v("NUL inside", "a\u0000b"),
  v("NUL alone", "\u0000"),
  v("10k characters", "x".repeat(10_000)),
  v("lone surrogate", "\ud800"),
  v("4-byte characters", "\u{1F4A5}".repeat(3_000)),
  v("control characters", "\u0001\u0007\u001b[31m\r\n"),
  v("not a UUID", "not-a-uuid"),
  v("nil UUID", "00000000-0000-0000-0000-000000000000"),
  v("UUID-shaped, not hex", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"),
  v("UUID with braces", `{${UUID}}`),
  v("negative number as text", "-1"),
  v("float overflow as text", "1e309"),
  v("NaN as text", "NaN"),
  v("Infinity as text", "Infinity"),
  v("40 digits", "9".repeat(40)),
  v("int64 + 1 as text", "9223372036854775808"),
  v("hex number", "0x10"),
  v("date before JS range", "-271821-04-20T00:00:00.000Z"),
  v("date after Postgres range", "+275760-09-13T00:00:00.000Z"),
  v("SQL", "'; DROP TABLE jobs; --"),
  v("LIKE wildcards", "%_\\"),
  v("me", "me"),
  v("percent-encoded NUL, literally", "%00"),
  { label: "malformed percent escape", encoded: "%E0%A4%A" },
  { label: "UTF-8 of a lone surrogate", encoded: "%ED%A0%80" },
];

/** JSON that is not a string, where a string is expected. */
const NOT_TEXT: Hostile[] = [
  v("number", 123),
  v("negative number", -1),
  v("huge number", 1e308),
  v("boolean", true),
  v("null", null),
  v("object", { a: 1 }),
  v("operator object", { $gt: "" }),
  v("array of strings", ["a", "b"]),
  v("empty array", []),
];

const NUMBERS: Hostile[] = [
  v("-1", -1),
  v("0", 0),
  v("fraction", 1.5),
  v("int32 max", 2_147_483_647),
  v("int32 max + 1", 2_147_483_648),
  v("int32 min - 1", -2_147_483_649),
  v("beyond safe integers", 9_007_199_254_740_993),
  v("int64 max + 1", 9_223_372_036_854_775_808),
  v("1e21", 1e21),
  v("largest double", 1.7976931348623157e308),
  v("most negative double", -1.7976931348623157e308),
  v("smallest positive double", 5e-324),
  v("JS date max in seconds", 8_640_000_000_000),
  v("JS date max + 1 s", 8_640_000_000_001),
  v("year 10000 in seconds", 253_402_300_800),
  v("year 1 in seconds", -62_135_596_800),
  v("JS date min in seconds", -8_640_000_000_000),
  v("unix ms instead of seconds", Date.now() + 3_600_000),
];

/** Number-like text: the REST adapter coerces text to numbers. */
const NUMERIC_TEXT: Hostile[] = [
  v("NaN", "NaN"),
  v("Infinity", "Infinity"),
  v("-Infinity", "-Infinity"),
  v("1e400", "1e400"),
  v("hex", "0x10"),
  v("digits and NUL", "1\u0000"),
  v("int32 max + 1", "2147483648"),
  v("int64 max + 1", "9223372036854775808"),
  v("80 digits", "9".repeat(80)),
  v("-0", "-0"),
  v("blank", " "),
  v("empty", ""),
];

const BOOLEANS: Hostile[] = [v("yes", "yes"), v("TRUE", "TRUE"), v("1", 1), v("0", 0), v("text 1", "1"), v("true and NUL", "true\u0000"), v("false as text", "false")];

const ENUMS: Hostile[] = [v("unknown value", "bogus"), v("upper case", "OPEN"), v("value and NUL", "open\u0000"), v("value with spaces", " open ")];

const ARRAYS: Hostile[] = [
  v("array with empty string", [""]),
  v("array with NUL", ["a\u0000b"]),
  v("array with NUL alone", ["\u0000"]),
  v("10,000 items", Array.from({ length: 10_000 }, (_, i) => `t${i}`)),
  v("33 items", Array.from({ length: 33 }, (_, i) => `t${i}`)),
  v("one 100k item", ["x".repeat(100_000)]),
  v("array with null", [null]),
  v("array with numbers", [1, 2]),
  v("array of arrays", [[]]),
  v("array of objects", [{}]),
  v("array with unknown enum", ["bogus"]),
  v("string instead of array", "text"),
  v("object instead of array", { 0: "a" }),
];

const OBJECTS: Hostile[] = [
  v("empty object", {}),
  v("NUL in a key", { "a\u0000b": 1 }),
  v("NUL in a value", { type: "string", description: "a\u0000b" }),
  v("lone surrogate in a value", { type: "string", description: "\ud800" }),
  v("20,000 keys", Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i]))),
  { label: "50 levels of objects", raw: deepObject(50) },
  { label: "JSON Schema nested 5,000 deep", raw: deepSchema(5_000) },
  v("array instead of object", [1]),
  v("string instead of object", "text"),
  v("__proto__ key", JSON.parse('{"__proto__":{"polluted":true},"type":"object"}')),
];

/** Any field, whatever its type. */
const ANY: Hostile[] = [
  { label: "nested 100 deep", raw: deepArray(100) },
  { label: "nested 10,000 deep", raw: deepArray(10_000) },
  { label: "objects nested 40,000 deep", raw: deepObject(40_000) },
];

const JOB_CURSORS: Hostile[] = [
  v("cursor: not base64 JSON", "garbage!!"),
  v("cursor: JSON null", cursorOf(null)),
  v("cursor: JSON array", cursorOf([1, 2])),
  v("cursor: id not a UUID", cursorOf({ v: "2026-01-01T00:00:00.000Z", id: "not-a-uuid", s: "created_at", o: "desc" })),
  v("cursor: id with NUL", cursorOf({ v: "2026-01-01T00:00:00.000Z", id: "\u0000", s: "created_at", o: "desc" })),
  v("cursor: date after Postgres range", cursorOf({ v: "+275760-09-13T00:00:00.000Z", id: UUID, s: "created_at", o: "desc" })),
  v("cursor: date before Postgres range", cursorOf({ v: "-100000-01-01T00:00:00.000Z", id: UUID, s: "created_at", o: "desc" })),
  v("cursor: date as a number", cursorOf({ v: 1e20, id: UUID, s: "created_at", o: "desc" })),
  v("cursor: date text Date.parse reads loosely", cursorOf({ v: "1", id: UUID, s: "created_at", o: "desc" })),
  { label: "cursor: price beyond int64", value: cursorOf({ v: "9".repeat(40), id: UUID, s: "price", o: "desc" }), query: { sort_by: "price" } },
  { label: "cursor: negative price", value: cursorOf({ v: "-1", id: UUID, s: "price", o: "desc" }), query: { sort_by: "price" } },
  { label: "cursor: expiry after Postgres range", value: cursorOf({ v: "+275760-09-13T00:00:00.000Z", id: UUID, s: "expiry", o: "asc" }), query: { sort_by: "expiry", sort_order: "asc" } },
  v("cursor: unknown sort field", cursorOf({ v: "1", id: UUID, s: "title", o: "desc" })),
  v("cursor: 100k characters", "A".repeat(100_000)),
];

const SUBMISSION_CURSORS: Hostile[] = [
  v("cursor: not base64 JSON", "garbage!!"),
  v("cursor: JSON null", cursorOf(null)),
  v("cursor: id not a UUID", cursorOf({ t: "2026-01-01T00:00:00.000Z", id: "not-a-uuid" })),
  v("cursor: date after Postgres range", cursorOf({ t: "+275760-09-13T00:00:00.000Z", id: UUID })),
  v("cursor: date before Postgres range", cursorOf({ t: "-100000-01-01T00:00:00.000Z", id: UUID })),
  v("cursor: date text Date.parse reads loosely", cursorOf({ t: "1", id: UUID })),
  v("cursor: date with NUL", cursorOf({ t: "2026-01-01\u0000", id: UUID })),
];

/** Whole bodies, for every operation that takes one. */
const BODIES: Array<{ label: string; text: string }> = [
  { label: "empty body", text: "" },
  { label: "empty object", text: "{}" },
  { label: "JSON null", text: "null" },
  { label: "JSON array", text: "[]" },
  { label: "JSON string", text: '"text"' },
  { label: "JSON number", text: "123" },
  { label: "not JSON", text: "{not json" },
  { label: "nested 100,000 deep", text: deepArray(100_000) },
  { label: "objects nested 50,000 deep", text: deepObject(50_000) },
  { label: "NUL in a key", text: '{"a\\u0000":1}' },
  { label: "__proto__", text: '{"__proto__":{"isAdmin":true}}' },
];

// ---------------------------------------------------------------------------------------------
// The document's shape, as far as this test reads it.

interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  example?: unknown;
}
interface Parameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  schema?: JsonSchema;
}
interface Operation {
  operationId?: string;
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
}

function typesOf(schema: JsonSchema | undefined): Set<string> {
  const types = new Set<string>();
  if (!schema) return types;
  if (schema.enum) types.add("enum");
  for (const t of [schema.type ?? []].flat()) types.add(t);
  for (const s of [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]) for (const t of typesOf(s)) types.add(t);
  return types;
}

/** The hostile classes that apply to a body field of this schema. */
function bodyClasses(name: string, schema: JsonSchema | undefined): Hostile[] {
  const types = typesOf(schema);
  const classes: Hostile[] = [...ANY];
  if (types.has("string") || types.size === 0) classes.push(...TEXT.filter((h) => h.encoded === undefined), v("100k characters", "x".repeat(100_000)));
  if (types.has("enum")) classes.push(...ENUMS);
  if (types.has("number") || types.has("integer")) classes.push(...NUMBERS, ...NUMERIC_TEXT);
  else classes.push(...NOT_TEXT);
  if (types.has("boolean")) classes.push(...BOOLEANS);
  if (types.has("array")) classes.push(...ARRAYS);
  if (types.has("object")) classes.push(...OBJECTS);
  if (name.endsWith("_id")) classes.push(v("id: 1,000 characters", "a".repeat(1_000)));
  return dedupe(classes);
}

/** Classes for a path or query parameter: everything arrives as text. */
function textClasses(param: Parameter): Hostile[] {
  const types = typesOf(param.schema);
  const classes: Hostile[] = [...TEXT, ...NUMERIC_TEXT];
  if (types.has("enum")) classes.push(...ENUMS);
  if (types.has("boolean")) classes.push(...BOOLEANS.filter((h) => typeof h.value === "string"));
  if (types.has("number") || types.has("integer")) classes.push(...NUMBERS.map((h) => v(`${h.label} as text`, String(h.value))));
  if (param.in === "query") classes.push(v("repeated parameter", ["a", "b"]), v("[] notation", { "[]": "a" }));
  if (param.name === "cursor") classes.push(...(fixture.cursorsFor(param) ?? []));
  return dedupe(classes);
}

function dedupe(classes: Hostile[]): Hostile[] {
  const seen = new Set<string>();
  return classes.filter((h) => {
    const key = `${h.label}|${h.raw ?? h.encoded ?? JSON.stringify(h.value)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// Fixtures: who calls each operation and the valid values every other field keeps, so the one
// hostile value gets as far into the service as it can.

type Credential = { key: string } | { cookie: string } | Record<string, never>;

interface OperationSetup {
  credential?: () => Credential;
  path?: Record<string, () => string | Promise<string>>;
  query?: () => Record<string, string>;
  body?: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Other body fields a field's hostile values are sent with, so they get past the first check. */
  companions?: Record<string, Record<string, unknown>>;
  /** Puts the state back before each request (a worker re-claims before it can leave again). */
  before?: () => Promise<void>;
  /** Operations that change the same state run one after the other, in one lane. */
  lane?: string;
}

const asBuyer = () => ({ key: buyer.apiKey });
const asAdmin = () => ({ key: admin.apiKey });

const fixture = {
  /** Valid values for path parameters, by name, unless the operation says otherwise. */
  path: {
    agent_id: () => buyer.agentId,
    task_id: () => fundedJob,
    submission_id: () => submissionId,
    key_id: () => revocableKeyId,
    webhook_id: () => liveWebhookId(),
    delivery_id: () => liveDeliveryId(),
    dispute_id: () => openDisputeId(),
    // A well-formed id that names no dead letter (404): hostile variants must still not be 5xx.
    dead_letter_id: () => crypto.randomUUID(),
  } as Record<string, () => string | Promise<string>>,

  operations: {
    "POST /agents": { credential: () => ({}), body: () => ({ name: "Hostile" }) },
    "POST /agents/{agent_id}/deactivate": { credential: asAdmin, path: { agent_id: () => retiree.agentId } },
    "DELETE /agents/{agent_id}/api-keys/{key_id}": { credential: asBuyer },
    "POST /jobs": { credential: asBuyer, body: () => jobBody(), companions: { output_schema: { artifact_type: "json" } } },
    "GET /jobs": { credential: asBuyer },
    "PATCH /jobs/{task_id}": { credential: asBuyer, path: { task_id: () => openJob }, body: () => ({ title: "Still open" }) },
    "POST /jobs/{task_id}/fund": {
      credential: asBuyer,
      path: { task_id: () => openJob },
      body: () => ({ tx_hash: `0x${crypto.randomUUID().replaceAll("-", "").repeat(2)}` }),
    },
    "POST /jobs/{task_id}/claim": { credential: () => ({ key: claimer.apiKey }) },
    "POST /jobs/{task_id}/unclaim": {
      credential: () => ({ key: leaver.apiKey }),
      path: { task_id: () => unclaimJob },
      before: async () => {
        await app.api("POST", `/jobs/${unclaimJob}/claim`, { key: leaver.apiKey });
      },
    },
    "POST /jobs/{task_id}/submit": { credential: () => ({ key: worker.apiKey }), body: () => ({ content: "a delivery" }) },
    "POST /jobs/{task_id}/cancel": {
      credential: asBuyer,
      path: { task_id: async () => (await app.api("POST", "/jobs", { key: buyer.apiKey, body: jobBody() })).body.task_id },
    },
    "GET /submissions": { credential: () => ({ key: worker.apiKey }), query: () => ({ worker_id: "me" }) },
    "POST /submissions/{submission_id}/verdict": {
      credential: asBuyer,
      path: { submission_id: () => submitFresh(verdictJob) },
      body: () => ({ passed: false, reason: "not good enough" }),
    },
    "POST /dev/faucet": { credential: () => ({}), body: () => ({ address: buyer.wallet }) },
    "POST /owners": { credential: () => ({}), body: () => ({ email: `o-${crypto.randomUUID()}@example.com`, name: "Owner", password: "correct horse battery" }) },
    "GET /owners/me": { credential: () => ({ cookie: ownerCookie }) },
    "POST /owners/me/agents": { credential: () => ({ cookie: ownerCookie }), body: () => ({ name: "Owned" }) },
    "POST /jobs/{task_id}/dispute": {
      lane: "disputes",
      credential: asBuyer,
      body: () => ({ reason: "the verdict was wrong" }),
      // One open dispute per filer and job: close the last one so the next reaches the insert.
      before: async () => {
        const open = await app.db.dispute.findMany({ where: { jobId: fundedJob, filedBy: buyer.agentId, status: "open" } });
        for (const d of open) await app.api("POST", `/disputes/${d.id}/resolve`, { key: admin.apiKey, body: { resolution: "uphold", note: "closed by the test" } });
      },
    },
    "GET /disputes": { credential: asAdmin },
    "POST /disputes/{dispute_id}/resolve": { lane: "disputes", credential: asAdmin, body: () => ({ resolution: "uphold", note: "looked again" }) },
    "POST /admin/jobs/{task_id}/retry-payout": { credential: asAdmin },
    "GET /admin/reviews": { credential: asAdmin },
    "GET /platform/solvency": { credential: asAdmin },
    "GET /admin/reconciliation": { credential: asAdmin },
    "GET /admin/reconciliation/runs": { credential: asAdmin },
    "POST /admin/reconciliation/runs": { credential: asAdmin },
    "GET /admin/dead-letters": { credential: asAdmin },
    "POST /admin/dead-letters/{dead_letter_id}/requeue": { credential: asAdmin },
    "POST /admin/dead-letters/{dead_letter_id}/discard": { credential: asAdmin },
    "POST /agents/{agent_id}/webhooks": { credential: asBuyer, body: () => ({ url: "http://127.0.0.1:9/hook" }) },
  } as Record<string, OperationSetup>,

  cursorsFor(param: Parameter & { operation?: string }): Hostile[] | undefined {
    return param.operation === "GET /jobs" ? JOB_CURSORS : SUBMISSION_CURSORS;
  },
};

/** A valid value for a required body field no fixture names: the schema's example, else by type. */
function defaultFor(schema: JsonSchema | undefined): unknown {
  if (schema?.example !== undefined) return schema.example;
  const types = typesOf(schema);
  if (types.has("enum")) return schema!.enum![0];
  if (types.has("string")) return "text";
  if (types.has("integer") || types.has("number")) return 1;
  if (types.has("boolean")) return false;
  if (types.has("array")) return [];
  return {};
}

// ---------------------------------------------------------------------------------------------
// Sending one request.

interface Attempt {
  operation: string;
  where: string;
  label: string;
  status: number;
  body: string;
}

function encodePart(h: Hostile): string {
  if (h.encoded !== undefined) return h.encoded;
  const text = typeof h.value === "string" ? h.value : JSON.stringify(h.value);
  try {
    return encodeURIComponent(text);
  } catch {
    // A lone surrogate cannot be encoded as UTF-8: send the bytes a naive encoder would.
    return [...text].map((c) => (c.length === 1 && c >= "\ud800" && c <= "\udfff" ? "%ED%A0%80" : encodeURIComponent(c))).join("");
  }
}

function queryString(values: Array<[string, Hostile]>): string {
  const parts: string[] = [];
  for (const [name, h] of values) {
    if (Array.isArray(h.value)) for (const item of h.value) parts.push(`${encodeURIComponent(name)}=${encodePart(v("", item))}`);
    else if (h.value && typeof h.value === "object" && !h.encoded) for (const [k, item] of Object.entries(h.value)) parts.push(`${encodeURIComponent(`${name}${k}`)}=${encodePart(v("", item))}`);
    else parts.push(`${encodeURIComponent(name)}=${encodePart(h)}`);
  }
  return parts.length ? `?${parts.join("&")}` : "";
}

/** JSON text of a body in which one field may be raw JSON text. */
function bodyText(body: Record<string, unknown>, rawField?: { name: string; raw: string }): string {
  if (!rawField) return JSON.stringify(body);
  const marker = `__raw_${crypto.randomUUID()}__`;
  return JSON.stringify({ ...body, [rawField.name]: marker }).replace(JSON.stringify(marker), rawField.raw);
}

async function send(method: string, url: string, credential: Credential, text: string | undefined): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = {};
  if ("key" in credential) headers.Authorization = `Bearer ${credential.key}`;
  if ("cookie" in credential) headers.Cookie = credential.cookie;
  if (text !== undefined) headers["Content-Type"] = "application/json";
  // Operations that take one store the request under it: that path must hold too.
  headers["Idempotency-Key"] = `hostile-${crypto.randomUUID()}`;
  try {
    const res = await fetch(`${app.baseUrl}/api/v1${url}`, { method, headers, body: text, signal: AbortSignal.timeout(30_000) });
    return { status: res.status, body: await res.text() };
  } catch (err) {
    return { status: 599, body: `no answer: ${(err as Error).message}` };
  }
}

function describeBody(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

describe("hostile input generated from the OpenAPI document", () => {
  it("never answers 5xx, and names the field whenever it refuses input as invalid", async () => {
    const doc = (await app.api("GET", "/openapi.json")).body as { paths: Record<string, Record<string, Operation>> };
    const failures: Attempt[] = [];
    const unnamed: Attempt[] = [];
    const requestsPer = new Map<string, number>();
    const lanes = new Map<string, Array<() => Promise<void>>>();
    const started = Date.now();

    for (const [pathTemplate, item] of Object.entries(doc.paths)) {
      for (const [lowerMethod, op] of Object.entries(item)) {
        if (!["get", "post", "put", "patch", "delete"].includes(lowerMethod)) continue;
        const method = lowerMethod.toUpperCase();
        const operation = `${method} ${pathTemplate}`;
        const setup = fixture.operations[operation] ?? {};
        const lane = setup.lane ?? operation;
        lanes.set(lane, [...(lanes.get(lane) ?? []), () => exercise()]);
        requestsPer.set(operation, 0);

        async function exercise() {
          const credential = setup.credential ?? (op.security?.length ? (op.security.some((s) => "bearerAuth" in s) ? asBuyer : () => ({ cookie: ownerCookie })) : asBuyer);
          const params = op.parameters ?? [];
          const pathParams = params.filter((p) => p.in === "path");
          const queryParams = params.filter((p) => p.in === "query");
          const bodySchema = op.requestBody?.content?.["application/json"]?.schema;
          const bodyFields = Object.entries(bodySchema?.properties ?? {});

          async function baseline() {
            const path: Record<string, string> = {};
            for (const p of pathParams) {
              const make = setup.path?.[p.name] ?? fixture.path[p.name];
              if (!make) throw new Error(`${operation}: no fixture for path parameter ${p.name}; add one to fixture.path`);
              path[p.name] = await make();
            }
            const query = setup.query?.() ?? {};
            let body: Record<string, unknown> | undefined;
            if (bodySchema) {
              body = (await setup.body?.()) ?? {};
              for (const name of bodySchema.required ?? []) if (!(name in body)) body[name] = defaultFor(bodySchema.properties?.[name]);
            }
            return { path, query, body };
          }

          async function attempt(where: string, h: { label: string }, build: (b: Awaited<ReturnType<typeof baseline>>) => { path: Record<string, string>; rawPath?: Record<string, string>; query: Array<[string, Hostile]>; text: string | undefined }) {
            await setup.before?.();
            const b = await baseline();
            const req = build(b);
            let url = pathTemplate;
            for (const p of pathParams) url = url.replace(`{${p.name}}`, req.rawPath?.[p.name] ?? encodeURIComponent(req.path[p.name]!));
            url += queryString(req.query);
            const res = await send(method, url, credential(), req.text);
            requestsPer.set(operation, requestsPer.get(operation)! + 1);
            const record = { operation, where, label: h.label, status: res.status, body: describeBody(res.body) };
            if (res.status >= 500) failures.push(record);
            else if (res.status === 400) {
              const error = (JSON.parse(res.body) as { error?: { code?: string; details?: { field?: string; fields?: Record<string, string> } | null } }).error;
              if (error?.code === "VALIDATION_FAILED" && !error.details?.field && !error.details?.fields) unnamed.push(record);
            }
          }

          const baseQuery = (b: { query: Record<string, string> }, except?: string): Array<[string, Hostile]> =>
            Object.entries(b.query)
              .filter(([k]) => k !== except)
              .map(([k, value]) => [k, v("", value)]);

          for (const p of pathParams) {
            for (const h of textClasses(p)) {
              await attempt(`path ${p.name}`, h, (b) => ({ path: b.path, rawPath: { [p.name]: encodePart(h) }, query: baseQuery(b), text: b.body && JSON.stringify(b.body) }));
            }
          }
          for (const p of queryParams) {
            for (const h of textClasses({ ...p, operation } as Parameter)) {
              await attempt(`query ${p.name}`, h, (b) => {
                const companions = Object.entries(h.query ?? {}).map(([k, value]) => [k, v("", value)] as [string, Hostile]);
                return { path: b.path, query: [...baseQuery(b, p.name).filter(([k]) => !(k in (h.query ?? {}))), ...companions, [p.name, h]], text: b.body && JSON.stringify(b.body) };
              });
            }
          }
          for (const [name, schema] of bodyFields) {
            for (const h of bodyClasses(name, schema)) {
              await attempt(`body ${name}`, h, (b) => ({
                path: b.path,
                query: baseQuery(b),
                text: h.raw !== undefined ? bodyText({ ...b.body, ...setup.companions?.[name] }, { name, raw: h.raw }) : JSON.stringify({ ...b.body, ...setup.companions?.[name], [name]: h.value }),
              }));
            }
            if ((bodySchema?.required ?? []).includes(name)) {
              await attempt(`body ${name}`, { label: "missing" }, (b) => {
                const { [name]: _, ...rest } = b.body!;
                return { path: b.path, query: baseQuery(b), text: JSON.stringify(rest) };
              });
            }
          }
          if (bodySchema) {
            for (const whole of BODIES) await attempt("body", whole, (b) => ({ path: b.path, query: baseQuery(b), text: whole.text }));
          }
          if (pathParams.length + queryParams.length + bodyFields.length === 0) {
            await attempt("query", { label: "unknown parameters" }, (b) => ({ path: b.path, query: [["x", v("", "a\u0000b")], ["limit", v("", "1e400")]], text: undefined }));
          }
        }
      }
    }

    // Lanes run side by side, four at a time; within a lane, one request after another.
    const queue = [...lanes.values()];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let lane = queue.shift(); lane; lane = queue.shift()) for (const run of lane) await run();
      }),
    );

    const list = (attempts: Attempt[]) => attempts.map((a) => `${a.status} ${a.operation} ${a.where} = ${a.label}: ${a.body}`).join("\n");
    const requests = [...requestsPer.values()].reduce((a, b) => a + b, 0);
    console.info(`hostile inputs: ${requests} requests over ${requestsPer.size} operations in ${Math.round((Date.now() - started) / 1000)} s`);
    expect.soft(failures.length, `answered 5xx:\n${list(failures)}`).toBe(0);
    expect.soft(unnamed.length, `VALIDATION_FAILED without details.field(s):\n${list(unnamed)}`).toBe(0);
    // Every operation in the document was tried, including any added after this test was written.
    expect(requestsPer.size).toBeGreaterThanOrEqual(44);
    expect([...requestsPer].filter(([, n]) => n === 0)).toEqual([]);
  }, 300_000);
});


// ---------------------------------------------------------------------------------------------
// The reproductions named in the issue, one by one.

async function fields(res: { status: number; body: { error?: { code?: string; details?: { field?: string; fields?: Record<string, string> } | null } } }) {
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body.error?.code).toBe("VALIDATION_FAILED");
  const details = res.body.error?.details ?? {};
  return [...(details.field ? [details.field] : []), ...Object.keys(details.fields ?? {})];
}

describe("the issue's reproductions answer 400 naming the field", () => {
  it("a NUL character in a text field, a list filter or free-form JSON", async () => {
    expect(await fields(await app.api("POST", "/jobs", { key: buyer.apiKey, body: jobBody({ title: "a\u0000b" }) }))).toEqual(["title"]);
    expect(await fields(await app.api("PATCH", `/agents/${buyer.agentId}`, { key: buyer.apiKey, body: { name: "\u0000" } }))).toEqual(["name"]);
    expect(await fields(await app.api("POST", `/jobs/${fundedJob}/submit`, { key: worker.apiKey, body: { content: "done\u0000" } }))).toEqual(["content"]);
    expect(await fields(await app.api("GET", "/agents?name=a%00b"))).toEqual(["name"]);
    expect(await fields(await app.api("GET", "/jobs?capability=py%00thon"))).toEqual(["capability"]);
    expect(await fields(await app.api("GET", "/jobs?buyer_id=%00"))).toEqual(["buyer_id"]);
    const schemaKey = await app.api("POST", "/jobs", { key: buyer.apiKey, body: jobBody({ artifact_type: "json", output_schema: { type: "object", properties: { "a\u0000": { type: "string" } } } }) });
    expect(await fields(schemaKey)).toEqual(["output_schema.properties.a\\u0000"]);
    // An unpaired surrogate is not text either: jsonb (the job's event log) refuses it.
    expect(await fields(await app.api("PATCH", `/jobs/${openJob}`, { key: buyer.apiKey, body: { title: "\ud800" } }))).toEqual(["title"]);
  });

  it("a non-UUID id in a path; a well-formed unknown id is still 404", async () => {
    const key = await app.api("DELETE", `/agents/${buyer.agentId}/api-keys/not-a-uuid`, { key: buyer.apiKey });
    expect(await fields(key)).toEqual(["key_id"]);
    expect(await fields(await app.api("GET", "/jobs/not-a-uuid"))).toEqual(["task_id"]);
    expect(await fields(await app.api("GET", "/submissions/1e309"))).toEqual(["submission_id"]);
    expect(await fields(await app.api("DELETE", `/agents/${buyer.agentId}/webhooks/%00`, { key: buyer.apiKey }))).toEqual(["webhook_id"]);
    expect(await fields(await app.api("GET", "/agents/bad%20id"))).toEqual(["agent_id"]);
    const unknown = await app.api("DELETE", `/agents/${buyer.agentId}/api-keys/00000000-0000-0000-0000-000000000000`, { key: buyer.apiKey });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("API_KEY_NOT_FOUND");
  });

  it("a price or min_price beyond the int8 column; the largest that fits is accepted", async () => {
    expect(await fields(await app.api("POST", "/jobs", { key: buyer.apiKey, body: jobBody({ price: "9223372036854.775808" }) }))).toEqual(["price"]);
    expect(await fields(await app.api("POST", "/jobs", { key: buyer.apiKey, body: jobBody({ price: 1e21 }) }))).toEqual(["price"]);
    const largest = await app.api("POST", "/jobs", { key: buyer.apiKey, body: jobBody({ price: "9223372036854.775807" }) });
    expect(largest.status, JSON.stringify(largest.body)).toBe(201);
    expect(largest.body.price_base_units).toBe("9223372036854775807");

    expect(await fields(await app.api("GET", "/jobs?min_price=9223372036854.775808"))).toEqual(["min_price"]);
    expect(await fields(await app.api("GET", `/jobs?max_price=${"9".repeat(40)}`))).toEqual(["max_price"]);
    expect(await fields(await app.api("GET", "/jobs?min_price=-1"))).toEqual(["min_price"]);
    const listed = await app.api("GET", `/jobs?min_price=9223372036854.775807&buyer_id=${buyer.agentId}`);
    expect(listed.status).toBe(200);
    expect(listed.body.jobs.map((j: { task_id: string }) => j.task_id)).toEqual([largest.body.task_id]);
  });

  it("an expiry beyond what JS Date and Postgres hold, or given in milliseconds", async () => {
    expect(await fields(await app.api("POST", "/jobs", { key: buyer.apiKey, body: jobBody({ expiry: 8_640_000_000_001 }) }))).toEqual(["expiry"]);
    expect(await fields(await app.api("POST", "/jobs", { key: buyer.apiKey, body: jobBody({ expiry: Date.now() + 3_600_000 }) }))).toEqual(["expiry"]);
    expect(await fields(await app.api("PATCH", `/jobs/${openJob}`, { key: buyer.apiKey, body: { expiry: 253_402_300_800 } }))).toEqual(["expiry"]);
    const last = await app.api("PATCH", `/jobs/${openJob}`, { key: buyer.apiKey, body: { expiry: 253_402_300_799 } });
    expect(last.status, JSON.stringify(last.body)).toBe(200);
    expect(last.body.expiry).toBe(253_402_300_799);
  });

  it("a forged or corrupted list cursor; a real one still pages", async () => {
    const forged = [
      "garbage!!",
      cursorOf({ v: "2026-01-01T00:00:00.000Z", id: "not-a-uuid", s: "created_at", o: "desc" }),
      cursorOf({ v: "+275760-09-13T00:00:00.000Z", id: UUID, s: "created_at", o: "desc" }),
      cursorOf({ v: "1", id: UUID, s: "created_at", o: "desc" }),
    ];
    for (const cursor of forged) {
      const res = await app.api("GET", `/jobs?cursor=${encodeURIComponent(cursor)}`);
      expect(res.status, cursor).toBe(400);
      expect(res.body.error.details.field).toBe("cursor");
    }
    const price = await app.api("GET", `/jobs?sort_by=price&cursor=${cursorOf({ v: "9".repeat(40), id: UUID, s: "price", o: "desc" })}`);
    expect(price.status).toBe(400);
    expect(price.body.error.details.field).toBe("cursor");
    const submissions = await app.api("GET", `/submissions?worker_id=me&cursor=${cursorOf({ t: "-100000-01-01T00:00:00.000Z", id: UUID })}`, { key: worker.apiKey });
    expect(submissions.status).toBe(400);
    expect(submissions.body.error.details.field).toBe("cursor");

    const first = await app.api("GET", `/jobs?buyer_id=${buyer.agentId}&limit=1`);
    const second = await app.api("GET", `/jobs?buyer_id=${buyer.agentId}&limit=1&cursor=${first.body.next_cursor}`);
    expect(second.status).toBe(200);
    expect(second.body.jobs[0].task_id).not.toBe(first.body.jobs[0].task_id);
  });

  it("deeply nested JSON at the REST door, with an Idempotency-Key (the request is hashed for it)", async () => {
    const deep = await fetch(`${app.baseUrl}/api/v1/jobs`, {
      method: "POST",
      headers: { Authorization: `Bearer ${buyer.apiKey}`, "Content-Type": "application/json", "Idempotency-Key": "deep-schema" },
      body: bodyText({ ...jobBody(), artifact_type: "json" }, { name: "output_schema", raw: deepObject(20_000) }),
    });
    expect(deep.status).toBe(400);
    const error = (await deep.json()).error;
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.details.fields).toEqual({ output_schema: "nested deeper than 64 levels" });
  });

  it("the same limits at the tRPC door the console uses, for single and batched calls", async () => {
    const trpc = (path: string, init: RequestInit) => fetch(`${app.baseUrl}/api/trpc/${path}`, { ...init, headers: { Authorization: `Bearer ${buyer.apiKey}`, "Content-Type": "application/json", ...init.headers } });
    const deep = await trpc("jobs.create", { method: "POST", body: bodyText({ ...jobBody(), artifact_type: "json" }, { name: "output_schema", raw: deepObject(20_000) }) });
    expect(deep.status).toBe(400);
    expect((await deep.json()).error.data).toMatchObject({ appCode: "VALIDATION_FAILED", details: { fields: { output_schema: "nested deeper than 64 levels" } } });

    const nulInBatch = await trpc(`agents.list,jobs.list?batch=1&input=${encodeURIComponent(JSON.stringify({ 0: { name: "ok" }, 1: { capability: "a\u0000" } }))}`, { method: "GET" });
    expect(nulInBatch.status).toBe(400);
    const answers = (await nulInBatch.json()) as Array<{ error: { data: { appCode: string; details: { fields: Record<string, string> } } } }>;
    expect(answers).toHaveLength(2);
    for (const answer of answers) expect(answer.error.data).toMatchObject({ appCode: "VALIDATION_FAILED", details: { fields: { capability: "must not contain NUL characters (\\u0000)" } } });

    const huge = await trpc("jobs.create", { method: "POST", body: JSON.stringify({ ...jobBody(), description: "x".repeat(300_000) }) });
    expect(huge.status).toBe(413);

    const fine = await trpc("jobs.create", { method: "POST", body: JSON.stringify(jobBody({ title: "via tRPC" })) });
    expect(fine.status).toBe(200);
  });
});

describe("the error table's net behind the schemas", () => {
  it("maps a value Postgres refuses to a 400, and leaves other database errors a 500", async () => {
    const { toAppError } = await import("~/server/errors");
    const { sqlQuery } = await import("~/server/db-sql");
    const { Prisma } = await import("~/generated/prisma/client");
    const refused = async (run: () => Promise<unknown>) => toAppError(await run().then(() => undefined, (err: unknown) => err));
    const valueErrors = [
      await refused(() => app.db.agent.create({ data: { id: `nul-${Date.now()}`, name: "a\u0000b" } })),
      await refused(() => app.db.apiKey.findFirst({ where: { id: "not-a-uuid" } })),
      await refused(() => app.db.$queryRaw`SELECT ${"9".repeat(30)}::bigint`),
      await refused(() => sqlQuery(Prisma.sql`SELECT ${"+275760-09-13T00:00:00.000Z"}::timestamp`)),
      await refused(() => sqlQuery(Prisma.sql`SELECT ${'{"a":"\\u0000"}'}::jsonb`)),
    ];
    for (const error of valueErrors) {
      expect(error.code, `${valueErrors.indexOf(error)}`).toBe("VALIDATION_FAILED");
      expect(error.httpStatus).toBe(400);
    }
    const notInput = [await refused(() => app.db.$queryRaw`SELECT * FROM no_such_table`), await refused(() => sqlQuery(Prisma.sql`SELECT 1/0`))];
    for (const error of notInput) expect(error.code).toBe("INTERNAL");
  });

  it("bounds JSON depth exactly at the limit", async () => {
    const { jsonInputProblem, MAX_JSON_DEPTH } = await import("~/server/input-bounds");
    expect(jsonInputProblem(JSON.parse(deepArray(MAX_JSON_DEPTH)))).toBeUndefined();
    expect(jsonInputProblem(JSON.parse(deepArray(MAX_JSON_DEPTH + 1)))?.details).toEqual({ fields: { "0": `nested deeper than ${MAX_JSON_DEPTH} levels` } });
  });
});
