import type { AnyTRPCProcedure } from "@trpc/server";
import Ajv from "ajv";
import Ajv2020 from "ajv/dist/2020";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { getOpenApiDocument } from "~/server/api/openapi";
import { appRouter } from "~/server/api/root";
import { adminProcedure, agentOrOwnerProcedure, agentProcedure, ownerProcedure } from "~/server/api/trpc";
import { httpStatusOf, type AppErrorCode } from "~/server/errors";

// The document is built from the router alone: no database, chain or env needed.
const doc = getOpenApiDocument() as unknown as {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Record<string, unknown>>; securitySchemes: Record<string, Record<string, unknown>> };
};

interface MediaType {
  schema?: { $ref?: string };
  example?: { error?: { code?: string; message?: string; details?: unknown } };
}

interface Operation {
  operationId?: string;
  security?: Record<string, string[]>[];
  responses: Record<string, { description?: string; content?: Record<string, MediaType> }>;
}

const ERROR_REF = "#/components/schemas/Error";
const METHODS = new Set(["get", "put", "post", "delete", "patch", "head", "options", "trace"]);

const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([method]) => METHODS.has(method))
    .map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, path, op })),
);
const isProtected = (op: Operation) => (op.security ?? []).some((r) => Object.keys(r).length > 0);

const errorSchema = doc.components.schemas.Error as
  | { properties: { error: { properties: { code: { enum: string[] } }; required: string[] } }; required: string[] }
  | undefined;
const ajv = new Ajv({ strict: false });
// Without an Error schema nothing validates, so every check below fails rather than the import.
const validateErrorBody = (body: unknown) => ajv.validate(errorSchema ?? { not: {} }, body);

function statusOf(code: string | undefined): number | undefined {
  try {
    return httpStatusOf(code as AppErrorCode);
  } catch {
    return undefined; // not a code in the error table
  }
}

describe("the OpenAPI document's error responses", () => {
  it("has one Error schema for the REST error body, its codes taken from the error table", () => {
    expect(errorSchema).toBeDefined();
    expect(errorSchema!.required).toEqual(["error"]);
    expect(errorSchema!.properties.error.required).toEqual(["code", "message", "details"]);
    const codes = errorSchema!.properties.error.properties.code.enum;
    expect(codes).toEqual(expect.arrayContaining(["VALIDATION_FAILED", "UNAUTHORIZED", "JOB_NOT_FOUND", "JOB_NOT_FUNDED", "INTERNAL"]));
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(statusOf(code), code).toBeGreaterThanOrEqual(400);
    expect(validateErrorBody({ error: { code: "JOB_NOT_FOUND", message: "Job 'x' not found", details: null } })).toBe(true);
    expect(validateErrorBody({ error: { code: "VALIDATION_FAILED", message: "title: is required", details: { fields: { title: "is required" } } } })).toBe(true);
    expect(validateErrorBody({ message: "Invalid input data", code: "BAD_REQUEST", issues: [] })).toBe(false);
    expect(validateErrorBody({ error: { code: "NO_SUCH_CODE", message: "x", details: null } })).toBe(false);
  });

  it("lists 400 and 500 for every operation, 401 and 403 when it needs credentials, 404 when the path has a parameter", () => {
    expect(operations.length).toBeGreaterThan(30);
    for (const { name, path, op } of operations) {
      const statuses = Object.keys(op.responses);
      expect(statuses, name).toEqual(expect.arrayContaining(["400", "500"]));
      if (isProtected(op)) expect(statuses, name).toEqual(expect.arrayContaining(["401", "403"]));
      if (path.includes("{")) expect(statuses, name).toContain("404");
    }
    // Both kinds exist, so the checks above cover each.
    expect(operations.filter((o) => isProtected(o.op)).length).toBeGreaterThan(0);
    expect(operations.find((o) => o.name === "POST /agents")!.op.security ?? []).toEqual([]);
  });

  it("describes every error response with the Error schema and an example whose code maps to that status", () => {
    // Statuses a procedure answers with its own body (health's 503) are not errors.
    const bodyStatuses = new Set(procedures.flatMap(({ path, def }) => Object.keys(def.meta?.outputStatuses ?? {}).map((s) => `${operationOf(path, def)!.name} ${s}`)));
    expect(bodyStatuses).toEqual(new Set(["GET /health 503"]));
    for (const { name, op } of operations) {
      for (const [status, response] of Object.entries(op.responses)) {
        if (Number(status) < 400 || bodyStatuses.has(`${name} ${status}`)) continue;
        const where = `${name} ${status}`;
        const media = response.content?.["application/json"];
        expect(media?.schema, where).toEqual({ $ref: ERROR_REF });
        expect(media?.example, where).toBeDefined();
        expect(validateErrorBody(media!.example), `${where}: ${ajv.errorsText()}`).toBe(true);
        expect(statusOf(media!.example!.error!.code), where).toBe(Number(status));
      }
    }
  });

  it("names a field in each 400 example, and one of the operation's own when it has input", () => {
    const create = operations.find((o) => o.name === "POST /jobs")!.op;
    const example = create.responses["400"]!.content!["application/json"]!.example!.error!;
    expect(example.code).toBe("VALIDATION_FAILED");
    expect(example.message).toMatch(/^title: /);
    expect(example.details).toEqual({ fields: { title: expect.any(String) } });
    for (const { name, op } of operations) {
      expect(op.responses["400"]!.content!["application/json"]!.example!.error!.message, name).toMatch(/^[\w.-]+: /);
    }
  });

  it("no longer mentions trpc-to-openapi's own error schemas", () => {
    const text = JSON.stringify(doc);
    expect(text.match(/#\/components\/schemas\/error\.\w+/g) ?? []).toEqual([]);
    expect(Object.keys(doc.components.schemas).filter((name) => name.startsWith("error."))).toEqual([]);
    expect(text.match(/"issues"/g) ?? []).toEqual([]);
  });
});

// Procedures as the REST adapter sees them: meta (openapi, successStatus), output schema, middlewares.
interface ProcedureDef {
  meta?: { openapi?: { method: string; path: string; operationId?: string }; successStatus?: number; outputStatuses?: Record<number, string> };
  output?: z.ZodType;
  middlewares: unknown[];
}
const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, AnyTRPCProcedure>)
  .map(([path, procedure]) => ({ path, def: procedure._def as unknown as ProcedureDef }))
  .filter(({ def }) => def.meta?.openapi);
const operationById = new Map(operations.map((o) => [o.op.operationId, o]));
const operationOf = (path: string, def: ProcedureDef) => operationById.get(def.meta!.openapi!.operationId ?? path.replace(/\./g, "-"));

interface SuccessMedia {
  schema?: { $ref?: string; example?: unknown };
  example?: unknown;
}
const successOf = (op: Operation) => Object.entries(op.responses).filter(([status]) => Number(status) < 400);

// OpenAPI 3.1 schemas are JSON Schema 2020-12. Each schema is compiled with the document's
// components beside it, so its "#/components/schemas/..." references resolve.
const ajv2020 = new Ajv2020({ strict: false, allErrors: true });
function validateAgainst(schema: Record<string, unknown>, value: unknown): string | undefined {
  const validate = ajv2020.compile({ ...schema, components: doc.components });
  return validate(value) ? undefined : ajv2020.errorsText(validate.errors);
}
function exampleOf(media: SuccessMedia | undefined): unknown {
  if (media?.example !== undefined) return media.example;
  const ref = media?.schema?.$ref;
  return ref ? doc.components.schemas[ref.replace("#/components/schemas/", "")]?.example : media?.schema?.example;
}

describe("the OpenAPI document's success responses", () => {
  it("are documented at the status the REST adapter answers with (meta successStatus, else 200)", () => {
    expect(procedures.length).toBe(operations.length);
    for (const { path, def } of procedures) {
      const found = operationOf(path, def);
      expect(found, path).toBeDefined();
      expect(successOf(found!.op).map(([status]) => status), found!.name).toEqual([String(def.meta!.successStatus ?? 200)]);
    }
    const statusOf = (name: string) => successOf(operations.find((o) => o.name === name)!.op)[0]![0];
    expect(statusOf("POST /agents")).toBe("201");
    expect(statusOf("POST /owners/me/agents")).toBe("201");
    expect(statusOf("POST /jobs/{task_id}/submit")).toBe("202");
    expect(statusOf("GET /jobs")).toBe("200");
  });

  it("documents health's 503 with the health body, not the error body", () => {
    const health = operations.find((o) => o.name === "GET /health")!.op;
    const unhealthy = health.responses["503"]!;
    expect(unhealthy.description).toMatch(/database is down/);
    expect(unhealthy.content).toEqual(health.responses["200"]!.content);
    expect(JSON.stringify(unhealthy)).not.toContain("#/components/schemas/Error");
  });

  it("each have an example that validates against the response's schema", () => {
    for (const { name, op } of operations) {
      const [status, response] = successOf(op)[0]!;
      const media = response.content?.["application/json"] as SuccessMedia | undefined;
      const where = `${name} ${status}`;
      if (status === "204") {
        expect(media, `${where}: a 204 has no body`).toBeUndefined();
        continue;
      }
      expect(media?.schema, where).toBeDefined();
      const example = exampleOf(media);
      expect(example, `${where}: no example`).toBeDefined();
      expect(validateAgainst(media!.schema as Record<string, unknown>, example), where).toBeUndefined();
    }
  });

  it("really validates: a wrong type, a missing field or an unknown field is refused", () => {
    const job = doc.components.schemas.Job!.example as Record<string, unknown>;
    const jobRef = { $ref: "#/components/schemas/Job" };
    expect(validateAgainst(jobRef, job)).toBeUndefined();
    expect(validateAgainst(jobRef, { ...job, price: 10 })).toMatch(/price/);
    const { title: _title, ...untitled } = job;
    expect(validateAgainst(jobRef, untitled)).toMatch(/title/);
    expect(validateAgainst(jobRef, { ...job, surprise: true })).toMatch(/additional/);
    const list = operations.find((o) => o.name === "GET /jobs")!.op.responses["200"]!.content!["application/json"]!.schema as Record<string, unknown>;
    expect(validateAgainst(list, { jobs: [{ ...job, status: "lost" }], total: 1, total_is_estimate: false, limit: 50, offset: 0, next_cursor: null })).toMatch(/status/);
  });

  it("take their examples from the zod output schemas, which accept them too", () => {
    let checked = 0;
    for (const { path, def } of procedures) {
      if (def.meta?.successStatus === 204) {
        checked += 1;
        continue;
      }
      const example = def.output?.meta()?.example;
      if (example === undefined) continue;
      const parsed = def.output!.safeParse(example);
      expect(parsed.success, `${path}: ${parsed.error?.message}`).toBe(true);
      checked += 1;
    }
    expect(checked).toBe(procedures.length);
  });
});

describe("the OpenAPI document's security requirements", () => {
  // The builder a procedure is made from decides who may call it (src/server/api/trpc.ts); its
  // last middleware is the check, and every procedure built on it carries that function.
  const gate = (builder: { _def: { middlewares: unknown[] } }) => builder._def.middlewares.at(-1);
  const builtOn = (def: ProcedureDef, builder: { _def: { middlewares: unknown[] } }) => def.middlewares.includes(gate(builder));
  const bearer = { bearerAuth: [] };
  const cookie = { sessionCookie: [] };

  it("declares a session cookie scheme for the console's next-auth session beside the bearer API key", () => {
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.components.securitySchemes.sessionCookie).toMatchObject({ type: "apiKey", in: "cookie", name: "next-auth.session-token" });
  });

  it("asks owner-only operations for the session cookie, agent operations for an API key, and accepts either where both work", () => {
    const ownerOnly: string[] = [];
    for (const { path, def } of procedures) {
      const { name, op } = operationOf(path, def)!;
      if (builtOn(def, ownerProcedure)) {
        ownerOnly.push(name);
        expect(op.security, name).toEqual([cookie]);
      } else if (builtOn(def, agentOrOwnerProcedure) || builtOn(def, adminProcedure)) {
        expect(op.security, name).toEqual([bearer, cookie]);
      } else if (builtOn(def, agentProcedure)) {
        expect(op.security, name).toEqual([bearer]);
      } else {
        expect(op.security ?? [], name).toEqual([]);
      }
    }
    expect(ownerOnly.sort()).toEqual(["GET /owners/me", "POST /owners/me/agents"]);
    const securityOf = (name: string) => operations.find((o) => o.name === name)!.op.security;
    expect(securityOf("PATCH /agents/{agent_id}")).toEqual([bearer, cookie]);
    expect(securityOf("POST /disputes/{dispute_id}/resolve")).toEqual([bearer, cookie]);
    expect(securityOf("POST /jobs/{task_id}/claim")).toEqual([bearer]);
  });
});
