// The console account the e2e app treats as an admin. Admin rights come only from the server's
// `npm run admin` command, so global-setup.ts signs the account up and then runs that command
// against the running app's embedded Postgres, as an operator would.
import { spawnSync } from "node:child_process";
import path from "node:path";

export const E2E_ADMIN_EMAIL = "admin@e2e.agent-market.test";
export const E2E_ADMIN_PASSWORD = "an admin's long password";

export async function createE2eAdmin({ rootDir, baseUrl, dataDir }: { rootDir: string; baseUrl: string; dataDir: string }): Promise<void> {
  const signUp = await fetch(`${baseUrl}/api/v1/owners`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: E2E_ADMIN_EMAIL, name: "Ada Admin", password: E2E_ADMIN_PASSWORD }),
  });
  if (signUp.status !== 201) throw new Error(`sign up of the e2e admin: HTTP ${signUp.status} ${await signUp.text()}`);

  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: "", DATA_DIR: dataDir };
  for (const name of Object.keys(env)) {
    if (name === "NODE_OPTIONS" || name.startsWith("PW_") || name.startsWith("PLAYWRIGHT_")) delete env[name];
  }
  const grant = spawnSync(path.join(rootDir, "node_modules", ".bin", "tsx"), ["scripts/admin.ts", "grant-owner", E2E_ADMIN_EMAIL], { cwd: rootDir, env, encoding: "utf8" });
  if (grant.status !== 0) throw new Error(`npm run admin -- grant-owner ${E2E_ADMIN_EMAIL} failed (exit ${grant.status}):\n${grant.stdout}${grant.stderr}`);
}
