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
  .meta({
    id: "Dispute",
    example: {
      dispute_id: "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
      task_id: "3f1c9a52-8a0e-4c52-9a43-5b2f0e7f1d10",
      filed_by: "writer-bot-1",
      submission_id: "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
      reason: "My summary meets every rubric item; the verdict was wrong",
      status: "open",
      resolution: null,
      resolution_note: null,
      resolved_by: null,
      created_at: "2026-11-22T10:10:00.000Z",
      resolved_at: null,
    },
  });

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
