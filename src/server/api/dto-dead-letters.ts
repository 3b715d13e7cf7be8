import { z } from "zod";
import { backgroundFunctions, type BackgroundFunctionKey } from "~/server/jobs/catalog";
import type { DeadLetter } from "~/server/services/background/dead-letters";

export const BACKGROUND_FUNCTION_KEYS = Object.keys(backgroundFunctions) as [BackgroundFunctionKey, ...BackgroundFunctionKey[]];

export const sampleDeadLetter = {
  dead_letter_id: "5b0d2c61-8f4e-4a57-9c1d-2e3f4a5b6c7d",
  function: "sendTransfer",
  queue: "payouts.send-transfer",
  payload: { transferId: "8c7b6a59-4d3e-4f2a-9b1c-0d9e8f7a6b5c" },
  request_id: "c0ffee00-1234-4abc-8def-0123456789ab",
  attempts: 10,
  error: "step 'send': the RPC answered 503",
  singleton_key: "8c7b6a59-4d3e-4f2a-9b1c-0d9e8f7a6b5c",
  created_at: "2026-11-22T10:04:00.000Z",
  failed_at: "2026-11-22T10:21:13.000Z",
} as const;

export const ZDeadLetterDto = z
  .object({
    dead_letter_id: z.string().meta({ description: "the pg-boss job's id" }),
    function: z.enum(BACKGROUND_FUNCTION_KEYS).nullable().meta({ description: "the background function; null for a queue this version no longer runs" }),
    queue: z.string().meta({ description: "the pg-boss queue" }),
    payload: z.record(z.string(), z.unknown()).meta({ description: "what the work was given (ids), secrets redacted" }),
    request_id: z.string().nullable().meta({ description: "X-Request-Id of the request that queued it; null for work the sweep or a schedule queued. Search the logs for it" }),
    attempts: z.number().int().meta({ description: "attempts made, all failed" }),
    error: z.string().nullable().meta({ description: "why the last attempt failed (secrets redacted)" }),
    singleton_key: z.string().nullable(),
    created_at: z.string(),
    failed_at: z.string().nullable(),
  })
  .meta({ id: "DeadLetter", example: sampleDeadLetter });

export function toDeadLetterDto(d: DeadLetter): z.infer<typeof ZDeadLetterDto> {
  return {
    dead_letter_id: d.id,
    function: d.fn,
    queue: d.queue,
    payload: d.payload,
    request_id: d.requestId,
    attempts: d.attempts,
    error: d.error,
    singleton_key: d.singletonKey,
    created_at: d.createdAt.toISOString(),
    failed_at: d.failedAt?.toISOString() ?? null,
  };
}

