import { z } from "zod";
import type { Dispute } from "~/generated/prisma/client";

// Disputes on the wire (#34, G24): snake_case, ISO times, the seeds' task_id naming.

export const ZDisputeStatus = z.enum(["open", "resolved"]);
export const ZDisputeResolution = z.enum(["uphold", "overturn_to_worker", "refund_buyer"]);

export const ZDisputeDto = z
  .object({
    dispute_id: z.string(),
    task_id: z.string(),
    filed_by: z.string(),
    submission_id: z.string().nullable(),
    reason: z.string(),
    status: ZDisputeStatus,
    resolution: ZDisputeResolution.nullable(),
    resolution_note: z.string().nullable(),
    resolved_by: z.string().nullable(),
    created_at: z.string(),
    resolved_at: z.string().nullable(),
  })
  .meta({ id: "Dispute" });

export function toDisputeDto(d: Dispute): z.infer<typeof ZDisputeDto> {
  return {
    dispute_id: d.id,
    task_id: d.jobId,
    filed_by: d.filedBy,
    submission_id: d.submissionId,
    reason: d.reason,
    status: d.status,
    resolution: d.resolution,
    resolution_note: d.resolutionNote,
    resolved_by: d.resolvedBy,
    created_at: d.createdAt.toISOString(),
    resolved_at: d.resolvedAt ? d.resolvedAt.toISOString() : null,
  };
}
