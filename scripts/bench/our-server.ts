// Our server for the benchmark: the same createAppServer() that `npm start` serves /api/v1 with
// (without the Next page handler, which these endpoints never reach), in its own process so the
// load generator does not share its event loop. No pg-boss runner: list, get and claim never
// dispatch background work.
//
// Started by scripts/bench/run.ts with DATABASE_URL etc. in its env; prints {"port": n} first.
export {};

// Fail at startup, not on the first request, when the configuration is not valid.
const { getEnv } = await import("~/env");
try {
  getEnv();
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
const { createAppServer, listen } = await import("~/server/http/app-server");
const { closeDb } = await import("~/server/db");
const { closeRateLimiter } = await import("~/server/rate-limit/limiter");

// BENCH_PROFILE_DIR: the first SIGUSR2 starts a CPU profile, the next writes it there (profile.ts).
if (process.env.BENCH_PROFILE_DIR) {
  const { Session } = await import("node:inspector/promises");
  const { writeFileSync } = await import("node:fs");
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 200 });
  let running = false;
  process.on("SIGUSR2", async () => {
    if (!running) {
      running = true;
      await session.post("Profiler.start");
      process.stdout.write("profiling\n");
      return;
    }
    running = false;
    const { profile } = await session.post("Profiler.stop");
    const file = `${process.env.BENCH_PROFILE_DIR}/ours-${Date.now()}.cpuprofile`;
    writeFileSync(file, JSON.stringify(profile));
    process.stdout.write(`profile ${file}\n`);
  });
}

// The bench asks over IPC for this process's CPU time (scripts/bench/load.ts, cpuUsage).
process.on("message", (message) => {
  if (message === "cpu-usage") process.send?.({ cpuUsage: process.cpuUsage() });
});

const server = createAppServer();
const port = await listen(server, 0, "127.0.0.1");
process.stdout.write(`${JSON.stringify({ port })}\n`);

const stop = () => {
  server.close();
  server.closeAllConnections();
  Promise.allSettled([closeRateLimiter(), closeDb()]).finally(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
