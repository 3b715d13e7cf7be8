/** Set by e2e/global-setup.ts to the running app's origin, e.g. http://127.0.0.1:41234. */
export const BASE_URL_VARIABLE = "E2E_BASE_URL";

export function appBaseUrl(): string {
  const baseUrl = process.env[BASE_URL_VARIABLE];
  if (!baseUrl) throw new Error(`${BASE_URL_VARIABLE} is not set: run the tests with \`npx playwright test\`, whose global setup starts the app`);
  return baseUrl;
}

/** Set by e2e/global-setup.ts to the running app's embedded Postgres, for tests that act as an operator on the server. */
export const DATABASE_URL_VARIABLE = "E2E_DATABASE_URL";

export function appDatabaseUrl(): string {
  const databaseUrl = process.env[DATABASE_URL_VARIABLE];
  if (!databaseUrl) throw new Error(`${DATABASE_URL_VARIABLE} is not set: run the tests with \`npx playwright test\`, whose global setup starts the app`);
  return databaseUrl;
}
