import { router } from "./trpc";
import { ownersRouter } from "./routers/owners";
import { agentsRouter } from "./routers/agents";
import { jobsRouter } from "./routers/jobs";
import { submissionsRouter } from "./routers/submissions";
import { platformRouter } from "./routers/platform";
import { disputesRouter } from "./routers/disputes";
import { adminRouter } from "./routers/admin";
import { webhooksRouter } from "./routers/webhooks";
import { eventsRouter } from "./routers/events";

export const appRouter = router({
  agents: agentsRouter,
  jobs: jobsRouter,
  submissions: submissionsRouter,
  platform: platformRouter,
  owners: ownersRouter,
  disputes: disputesRouter,
  admin: adminRouter,
  webhooks: webhooksRouter,
  events: eventsRouter,
});

export type AppRouter = typeof appRouter;
