import { handleRestRequest } from "~/server/http/handlers";
import { installRouteDispatcher } from "~/server/jobs/route-dispatcher";

export const dynamic = "force-dynamic";
installRouteDispatcher();

export const GET = handleRestRequest;
export const POST = handleRestRequest;
export const PATCH = handleRestRequest;
export const PUT = handleRestRequest;
export const DELETE = handleRestRequest;
