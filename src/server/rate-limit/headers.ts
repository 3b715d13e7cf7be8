import type { RateLimitOutcome } from "./limiter";

/**
 * The budgets one HTTP request touched (a tRPC batch touches one per call), turned into headers
 * by the door that answers it. Fields of draft-ietf-httpapi-ratelimit-headers (-10):
 *
 *   RateLimit-Policy: "reads";q=60;w=60          the budget: q calls per w seconds
 *   RateLimit: "reads";r=59;t=42                 r calls left, t seconds until the window ends
 *   Retry-After: 42                              only when a call was refused (429)
 *
 * A batch that touched several budgets lists each, comma-separated (structured-field lists).
 */
export class RateLimitRecorder {
  private readonly byPolicy = new Map<string, RateLimitOutcome>();

  record(outcome: RateLimitOutcome): void {
    const earlier = this.byPolicy.get(outcome.policy);
    // Calls of a batch run concurrently: keep the most telling answer, a refusal or the fewest left.
    if (!earlier || (outcome.limited && !earlier.limited) || (outcome.limited === earlier.limited && outcome.remaining <= earlier.remaining)) {
      this.byPolicy.set(outcome.policy, outcome);
    }
  }

  headers(): Record<string, string> {
    if (this.byPolicy.size === 0) return {};
    const outcomes = [...this.byPolicy.values()];
    const headers: Record<string, string> = {
      "RateLimit-Policy": outcomes.map((o) => `"${o.policy}";q=${o.limit};w=${o.windowSeconds}`).join(", "),
      RateLimit: outcomes.map((o) => `"${o.policy}";r=${o.remaining};t=${o.resetSeconds}`).join(", "),
    };
    const refused = outcomes.filter((o) => o.limited);
    if (refused.length > 0) headers["Retry-After"] = String(Math.max(...refused.map((o) => o.resetSeconds)));
    return headers;
  }
}
