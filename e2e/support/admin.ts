/** The console account the e2e app treats as an admin (ADMIN_OWNER_EMAILS, set by app-process.ts). */
export const E2E_ADMIN_EMAIL = "admin@e2e.agent-market.test";
export const E2E_ADMIN_PASSWORD = "an admin's long password";
