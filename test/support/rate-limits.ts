/**
 * Budgets far above what any suite sends from one key or address in a minute (or an hour): the
 * limiter still runs in every test and every e2e run, and never refuses them.
 * test/rate-limits.test.ts passes the defaults back through extraEnv.
 */
export const GENEROUS_RATE_LIMITS = {
  RATE_LIMIT_READS_PER_MINUTE: "100000",
  RATE_LIMIT_WRITES_PER_MINUTE: "100000",
  RATE_LIMIT_SUBMISSIONS_PER_MINUTE: "100000",
  RATE_LIMIT_OWNER_READS_PER_MINUTE: "100000",
  RATE_LIMIT_OWNER_WRITES_PER_MINUTE: "100000",
  RATE_LIMIT_ADDRESS_PER_MINUTE: "100000",
  RATE_LIMIT_SIGNUPS_PER_HOUR: "100000",
  RATE_LIMIT_FAUCET_PER_HOUR: "100000",
};
