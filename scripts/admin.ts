// `npm run admin -- <command>`: who is an admin. Admin rights come only from someone who can run
// commands on the server; the API has no way to grant them (services/admins/manage-admins.ts).
// Runs against DATABASE_URL, or, when none is set, against the quick start's embedded Postgres
// in $DATA_DIR (adopting it when `npm start` is running, starting and stopping it otherwise).
import "dotenv/config";
import path from "node:path";

const USAGE = `usage: npm run admin -- <command>
  grant-owner <email>      make a console account an admin (it must have signed up)
  revoke-owner <email>     take admin rights from a console account
  grant-agent <agent_id>   make an agent an admin agent
  revoke-agent <agent_id>  take admin rights from an agent
  list                     show every admin`;

type Command = { kind: "list" } | { kind: "owner" | "agent"; change: "grant" | "revoke"; subject: string };

function parseCommand(args: string[]): Command | null {
  const [name, subject, ...rest] = args;
  if (rest.length > 0) return null;
  if (name === "list") return subject === undefined ? { kind: "list" } : null;
  const match = /^(grant|revoke)-(owner|agent)$/.exec(name ?? "");
  if (!match || !subject?.trim()) return null;
  return { kind: match[2] as "owner" | "agent", change: match[1] as "grant" | "revoke", subject: subject.trim() };
}

async function openDatabase(): Promise<{ databaseUrl: string; where: string; release: () => Promise<void> }> {
  if (process.env.DATABASE_URL) return { databaseUrl: process.env.DATABASE_URL, where: "DATABASE_URL", release: async () => undefined };
  const { startEmbeddedPostgres } = await import("~/server/dev/embedded-postgres");
  // The same directory `npm start` asks for (moved to the same place when run as root).
  const dataDir = path.resolve(process.cwd(), process.env.DATA_DIR ?? ".data");
  const cluster = await startEmbeddedPostgres({ dataDir: path.join(dataDir, "postgres"), port: Number(process.env.EMBEDDED_PG_PORT ?? 5488) });
  return {
    databaseUrl: cluster.databaseUrl,
    where: `embedded Postgres in ${cluster.dataDir}${cluster.adopted ? " (running)" : ""}`,
    // A cluster the app is running stays up; one started here is stopped again.
    release: cluster.adopted ? async () => undefined : () => cluster.stop(),
  };
}

async function main(): Promise<number> {
  const command = parseCommand(process.argv.slice(2));
  if (!command) {
    console.error(USAGE);
    return 2;
  }
  const { databaseUrl, where, release } = await openDatabase();
  const { applyMigrations } = await import("~/server/db/migrations");
  const { createDb } = await import("~/server/db");
  const { AppError } = await import("~/server/errors");
  const { listAdmins, setAgentAdmin, setOwnerAdmin } = await import("~/server/services/admins/manage-admins");
  let db;
  try {
    // The same migrations `npm start` applies: the command also works on a database the app has not opened yet.
    await applyMigrations(databaseUrl);
    db = createDb(databaseUrl, 2);
    if (command.kind === "list") {
      const { owners, agents } = await listAdmins({ db });
      console.log(`Admins (${where}):`);
      console.log(owners.length ? owners.map((o) => `  owner  ${o.email}  (${o.name})`).join("\n") : "  no admin owners");
      console.log(agents.length ? agents.map((a) => `  agent  ${a.id}  (${a.name})${a.deactivatedAt ? " deactivated" : ""}`).join("\n") : "  no admin agents");
    } else if (command.kind === "owner") {
      const owner = await setOwnerAdmin({ db, email: command.subject, change: command.change });
      console.log(`owner ${owner.email} ${owner.isAdmin ? "is now an admin" : "is no longer an admin"} (${where})`);
    } else {
      const agent = await setAgentAdmin({ db, agentId: command.subject, change: command.change });
      console.log(`agent ${agent.id} ${agent.isAdmin ? "is now an admin" : "is no longer an admin"} (${where})`);
    }
    return 0;
  } catch (error) {
    if (error instanceof AppError) {
      console.error(`admin: ${error.message}`);
      return 1;
    }
    throw error;
  } finally {
    await db?.$disconnect();
    await release();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error("admin failed:", error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
