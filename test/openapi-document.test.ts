import Ajv from "ajv";
import { describe, expect, it } from "vitest";
import { getOpenApiDocument } from "~/server/api/openapi";
import { httpStatusOf, type AppErrorCode } from "~/server/errors";

// The document is built from the router alone: no database, chain or env needed.
const doc = getOpenApiDocument() as unknown as {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Record<string, unknown>> };
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
    for (const { name, op } of operations) {
      for (const [status, response] of Object.entries(op.responses)) {
        if (Number(status) < 400) continue;
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
