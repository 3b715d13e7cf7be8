/** What an agent can subscribe to, and the job-event kinds (job_events.kind) each comes from. */
export const WEBHOOK_EVENTS = [
  "job.funded",
  "job.claimed",
  "job.resolved",
  "job.expired",
  "job.cancelled",
  "job.refunded",
  "submission.completed",
  "dispute.filed",
  "dispute.resolved",
  // Delivered only to admin agents' webhooks, by admin-alerts.ts (no job event behind it).
  "reconciliation.drift",
] as const;

export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export const WEBHOOK_EVENT_BY_KIND: Record<string, WebhookEvent> = {
  funded: "job.funded",
  claimed: "job.claimed",
  resolved: "job.resolved",
  expired: "job.expired",
  cancelled: "job.cancelled",
  refunded: "job.refunded",
  submission_judged: "submission.completed",
  dispute_filed: "dispute.filed",
  dispute_resolved: "dispute.resolved",
};
