// The browser-facing security headers, for every response the app serves. Applied by
// src/server/http/app-server.ts (every response under `npm start`), src/server/http/handlers.ts
// (the API doors, whichever server runs them) and src/proxy.ts (the console pages, with a
// per-request nonce).

/** On every response: no framing, no MIME sniffing, no full URLs leaked to other origins. */
export const BASE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "X-Frame-Options": "DENY",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "strict-origin-when-cross-origin",
};

/** JSON and anything else that is not a page: nothing may load from it, nothing may frame it. */
export const API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'";

export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  ...BASE_SECURITY_HEADERS,
  "Content-Security-Policy": API_CONTENT_SECURITY_POLICY,
};

/** A fresh, unguessable nonce for one page response (base64, as CSP's nonce-source wants). */
export function createNonce(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(18))));
}

/**
 * The console pages' policy. Next reads the nonce back from this header on the request and puts
 * it on its own inline and bundle scripts; 'strict-dynamic' lets those load the chunks they
 * import. Styles are the compiled stylesheet (same origin); in development Next also injects
 * inline styles and React needs eval for its error overlays.
 */
export function pageContentSecurityPolicy(nonce: string, { development }: { development: boolean }): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${development ? " 'unsafe-eval'" : ""}`,
    `style-src 'self' ${development ? "'unsafe-inline'" : `'nonce-${nonce}'`}`,
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}
