import { handleTrpcRequest } from "~/server/http/handlers";
import { installRouteDispatcher } from "~/server/jobs/route-dispatcher";

// Served by scripts/start.ts's server before Next sees the request; this route is the same
// handler for deployments that run Next alone.
export const dynamic = "force-dynamic";
installRouteDispatcher();

export const GET = handleTrpcRequest;
export const POST = handleTrpcRequest;
