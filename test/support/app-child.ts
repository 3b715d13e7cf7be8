// The app (HTTP server and pg-boss runner, as `npm start` runs them, without Next's pages) in a
// process of its own, configured by the environment startTestApp prepared. Tests kill it with
// SIGKILL, as a crash would, and start it again on the same database and chain.
import { getEnv } from "~/env";
import { createAppServer, listen } from "~/server/http/app-server";
import { startPgBossRunner } from "~/server/jobs/pg-boss-runner";

const env = getEnv();
await startPgBossRunner({ databaseUrl: env.DATABASE_URL });
// The same port across restarts when the test asks for one (clients keep their base URL).
const port = await listen(createAppServer(), Number(process.env.APP_PORT ?? 0), "127.0.0.1");
process.stdout.write(`LISTENING ${port}\n`);
