import { serve } from "inngest/next";
import { inngest, inngestFunctions } from "~/server/jobs/inngest";

// Inngest calls this endpoint to run the background functions when it is configured.
export const dynamic = "force-dynamic";
export const { GET, POST, PUT } = serve({ client: inngest, functions: inngestFunctions });
