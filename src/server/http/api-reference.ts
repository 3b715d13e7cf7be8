import { createHash } from "node:crypto";
import type { OpenAPIObject } from "trpc-to-openapi";

const CREDENTIAL_LABELS: Record<string, string> = { bearerAuth: "API key", sessionCookie: "console session" };

const STYLE = `body{font:15px/1.5 system-ui,sans-serif;max-width:920px;margin:2rem auto;padding:0 1rem;color:#111}code{background:#f3f4f6;padding:0 .25rem;border-radius:4px}
section{border-top:1px solid #e5e7eb;padding:.5rem 0}.m{font:600 12px monospace;padding:.1rem .4rem;border-radius:4px;color:#fff;background:#2563eb}.m.post{background:#16a34a}.m.delete{background:#dc2626}.m.patch{background:#d97706}
.k{font-size:12px;color:#92400e;background:#fef3c7;padding:.1rem .4rem;border-radius:4px}`;

/** The page's own policy: its one inline stylesheet (by hash), nothing else; links still navigate. */
export const API_REFERENCE_CONTENT_SECURITY_POLICY = `default-src 'none'; style-src 'sha256-${createHash("sha256").update(STYLE).digest("base64")}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/**
 * A readable reference page for the REST API, rendered from the OpenAPI document on the server:
 * no CDN script (this must work offline), just each operation with its parameters.
 */
export function renderApiReference(doc: OpenAPIObject): string {
  const sections: string[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(item as Record<string, { summary?: string; tags?: string[]; security?: unknown[]; parameters?: { name: string; in: string; required?: boolean }[]; requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, { description?: string; type?: string }>; required?: string[] } }> } }>)) {
      const params = (op.parameters ?? []).map((p) => `<li><code>${escape(p.name)}</code> <small>${p.in}${p.required ? ", required" : ""}</small></li>`);
      const schema = op.requestBody?.content?.["application/json"]?.schema;
      const fields = Object.entries(schema?.properties ?? {}).map(
        ([name, s]) => `<li><code>${escape(name)}</code>${schema?.required?.includes(name) ? " <small>required</small>" : ""}${s.description ? ` — ${escape(s.description)}` : ""}</li>`,
      );
      // Alternatives: each requirement object is one way in (an API key, or the console's session cookie).
      const credentials = (op.security ?? []).flatMap((r) => Object.keys(r as object).map((name) => CREDENTIAL_LABELS[name] ?? name));
      sections.push(`<section><h3><span class="m ${method}">${method.toUpperCase()}</span> <code>/api/v1${escape(path)}</code>${credentials.length ? ` <span class="k">${escape(credentials.join(" or "))}</span>` : ""}</h3>
<p>${escape(op.summary ?? "")}</p>${params.length ? `<h4>Parameters</h4><ul>${params.join("")}</ul>` : ""}${fields.length ? `<h4>Body</h4><ul>${fields.join("")}</ul>` : ""}</section>`);
    }
  }
  return `<!doctype html><html><head><meta charset="utf-8"><title>Agent Market API</title>
<style>${STYLE}</style></head>
<body><h1>${escape(doc.info.title)}</h1><p>${escape(doc.info.description ?? "")}</p><p>Machine-readable: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a></p>${sections.join("\n")}</body></html>`;
}
