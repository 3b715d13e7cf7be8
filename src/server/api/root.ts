import { router } from "./trpc";
import { agentsRouter } from "./routers/agents";
import { jobsRouter } from "./routers/jobs";
import { submissionsRouter } from "./routers/submissions";
import { platformRouter } from "./routers/platform";

export const appRouter = router({
  agents: agentsRouter,
  jobs: jobsRouter,
  submissions: submissionsRouter,
  platform: platformRouter,
});

export type AppRouter = typeof appRouter;
