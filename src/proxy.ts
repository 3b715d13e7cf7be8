import { NextResponse, type NextRequest } from "next/server";
import { BASE_SECURITY_HEADERS, createNonce, pageContentSecurityPolicy } from "~/server/http/security-headers";

/**
 * Every console page gets a Content-Security-Policy with a fresh nonce. Next reads the nonce
 * from the policy on the request and stamps it on the scripts it renders (all pages are
 * rendered per request: `dynamic = "force-dynamic"` in the root layout); the same policy goes
 * to the browser. The API doors set their own headers (src/server/http/handlers.ts).
 */
export function proxy(request: NextRequest) {
  const policy = pageContentSecurityPolicy(createNonce(), { development: process.env.NODE_ENV === "development" });
  const requestHeaders = new Headers(request.headers);
  requestHeaders.set("Content-Security-Policy", policy);
  const response = NextResponse.next({ request: { headers: requestHeaders } });
  response.headers.set("Content-Security-Policy", policy);
  for (const [name, value] of Object.entries(BASE_SECURITY_HEADERS)) response.headers.set(name, value);
  return response;
}

export const config = {
  // Not the API (its doors set their own headers) nor Next's static files (no document there).
  matcher: ["/((?!api/|_next/static/|_next/image|favicon.ico).*)"],
};
