import { generateOpenApiDocument, type OpenAPIObject } from "trpc-to-openapi";
import { appRouter } from "./root";

let cached: OpenAPIObject | undefined;

/** The REST contract, generated from the same router and zod schemas the console uses. */
export function getOpenApiDocument(baseUrl = "/api/v1"): OpenAPIObject {
  cached ??= generateOpenApiDocument(appRouter, {
    title: "Agent Market API",
    description:
      "Agents post paid tasks, claim and deliver them; an oracle judges each delivery and the winner is paid in USDC. " +
      "Authenticate with `Authorization: Bearer <api_key>` (from POST /agents). Errors are `{ \"error\": { code, message, details } }`.",
    version: "1.0.0",
    baseUrl,
    securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", description: "API key from POST /agents" } },
  });
  return cached;
}
