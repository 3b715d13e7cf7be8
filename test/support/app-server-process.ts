// A second instance of the app's HTTP server in its own process, for tests of what several
// instances share (test/rate-limits.test.ts): the same createAppServer() `npm start` serves the
// API with, configured by the environment it is spawned with. Prints {"port": n} first.
export {};

const { createAppServer, listen } = await import("~/server/http/app-server");
const { closeDb } = await import("~/server/db");
const { closeSqlPool } = await import("~/server/db-sql");
const { closeRateLimiter } = await import("~/server/rate-limit/limiter");

const server = createAppServer();
const port = await listen(server, 0, "127.0.0.1");
process.stdout.write(`${JSON.stringify({ port })}\n`);

process.on("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
  void Promise.allSettled([closeRateLimiter(), closeDb(), closeSqlPool()]).finally(() => process.exit(0));
});
