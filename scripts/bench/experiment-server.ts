// Experiments only (scripts/bench/experiments.ts): our server with one part swapped at a time,
// without touching src/. Each swap answers "what would changing this buy?" with a measurement.
// EXP is a comma-separated list of:
//   raw-query       db.$queryRaw runs on a plain pg Pool instead of Prisma's adapter
//   raw-get         db.job.findUnique with include (get-job.ts) becomes one SQL statement on pg
//                   (both measured on ae0c04f; since fccf63b/a39e940 list-jobs.ts and get-job.ts
//                   read through src/server/db-read.ts themselves, and these two change nothing)
//   count-cache     the capped count and EXPLAIN of list-jobs.ts are cached per filter for 5 s
//   no-output-check tRPC output validation (zod parse of every response) removed
//   node-handler    /api/v1 served by trpc-to-openapi's Node handler directly, skipping the
//                   IncomingMessage -> fetch Request -> Proxy -> shim -> Response -> ServerResponse trip
//   cluster2        two worker processes (node:cluster) share the port, each with its own pools
//   raw-tx          db.$transaction(fn) runs fn against a tiny pg shim with the model calls claim-job.ts
//                   and job-state.ts make (same statements, same order, no Prisma in between)
//   agent-lock-fix  claim-job.ts's "SELECT agents ... FOR SHARE" becomes FOR NO KEY UPDATE (what 1c081f6 did; see
//                   docs/performance.md: the share lock deadlocks against the later UPDATE agents)
// Prints {"port": n} first, like our-server.ts.
import cluster from "node:cluster";
import http from "node:http";
import { createInterface } from "node:readline";
import pg from "pg";

export {};

const exp = new Set((process.env.EXP ?? "").split(",").map((s) => s.trim()).filter(Boolean));

if (exp.has("cluster2") && cluster.isPrimary) {
  // The workers print their port; pass the first one on and forward signals.
  cluster.setupPrimary({ stdio: ["ignore", "pipe", "inherit", "ipc"] });
  const workers = [cluster.fork(), cluster.fork()];
  let told = false;
  for (const w of workers) {
    createInterface({ input: w.process.stdout! }).on("line", (line) => {
      if (!told) process.stdout.write(`${line}\n`);
      told = true;
    });
  }
  const stopAll = () => {
    for (const w of workers) w.process.kill("SIGTERM");
    setTimeout(() => process.exit(0), 1500).unref();
    cluster.on("exit", () => Object.keys(cluster.workers ?? {}).length === 0 && process.exit(0));
  };
  process.on("SIGTERM", stopAll);
  process.on("SIGINT", stopAll);
  await new Promise(() => undefined);
}

const { getEnv } = await import("~/env");
const env = getEnv();
const { createDb } = await import("~/server/db");
const { Prisma } = await import("~/generated/prisma/client");

const prisma = createDb(env.DATABASE_URL);
const poolSize = Number(process.env.DATABASE_POOL_SIZE ?? 20);
const UTC_TIMESTAMP = 1114;
const INT8 = 20;
const pool = new pg.Pool({
  connectionString: env.DATABASE_URL,
  max: poolSize,
  types: {
    getTypeParser: ((oid: number, format?: "text" | "binary") => {
      if (oid === UTC_TIMESTAMP) return (s: string) => new Date(`${s.replace(" ", "T")}Z`);
      if (oid === INT8) return (s: string) => BigInt(s);
      return pg.types.getTypeParser(oid, format as "text");
    }) as typeof pg.types.getTypeParser,
  },
});

const countCache = new Map<string, { at: number; rows: unknown }>();
const COUNT_TTL_MS = 5_000;

async function rawQuery(strings: TemplateStringsArray, ...values: unknown[]) {
  const sql = Prisma.sql(strings, ...(values as never[]));
  return (await pool.query(sql.text, sql.values as unknown[])).rows;
}

/** count-cache: the read pool (src/server/db-read.ts) answers repeated counts from memory. */
function isCountQuery(text: string): boolean {
  return text.startsWith("SELECT count(*) AS n FROM (SELECT 1 FROM jobs") || text.startsWith("EXPLAIN (FORMAT JSON) SELECT 1 FROM jobs");
}
if (exp.has("count-cache")) {
  const readPool = new pg.Pool({ connectionString: env.DATABASE_URL, max: Number(process.env.DATABASE_READ_POOL_SIZE ?? 10) });
  const query = readPool.query.bind(readPool) as (text: string, values?: unknown[]) => Promise<pg.QueryResult>;
  (readPool as unknown as { query: unknown }).query = async (text: string, values?: unknown[]) => {
    if (typeof text !== "string" || !isCountQuery(text)) return query(text, values);
    const key = `${text}|${JSON.stringify(values ?? [], (_k, v) => (typeof v === "bigint" ? v.toString() : v))}`;
    const hit = countCache.get(key);
    if (hit && Date.now() - hit.at < COUNT_TTL_MS) return hit.rows;
    const result = await query(text, values);
    countCache.set(key, { at: Date.now(), rows: result });
    return result;
  };
  (globalThis as unknown as { __agentMarketReadPool?: pg.Pool }).__agentMarketReadPool = readPool;
}

const camel = (s: string) => s.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

/** get-job.ts's findUnique + include in one statement, shaped as Prisma returns it. */
async function rawGetJob(id: string) {
  const { rows } = await pool.query(
    `SELECT j.*,
       (SELECT json_agg(json_build_object('worker_id', p.worker_id, 'claimed_at', p.claimed_at) ORDER BY p.claimed_at)
          FROM job_participants p WHERE p.task_id = j.task_id AND p.unclaimed_at IS NULL) AS participants,
       (SELECT json_agg(t ORDER BY t.created_at) FROM transfers t WHERE t.task_id = j.task_id) AS transfers,
       (SELECT count(*)::int FROM submissions s WHERE s.task_id = j.task_id) AS submissions
     FROM jobs j WHERE j.task_id = $1`,
    [id],
  );
  const r = rows[0];
  if (!r) return null;
  const job: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) {
    if (k === "participants" || k === "transfers" || k === "submissions") continue;
    job[k === "task_id" ? "id" : camel(k)] = v;
  }
  job.requiredCapabilities ??= [];
  job.participants = ((r.participants ?? []) as { worker_id: string; claimed_at: string }[]).map((p) => ({ workerId: p.worker_id, claimedAt: new Date(`${p.claimed_at}Z`) }));
  job.transfers = ((r.transfers ?? []) as Record<string, unknown>[]).map((t) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(t)) {
      const name = k === "task_id" ? "jobId" : camel(k);
      out[name] = k.endsWith("_at") && typeof v === "string" ? new Date(`${v}Z`) : k === "amount" ? BigInt(v as number) : v;
    }
    return out;
  });
  job._count = { submissions: r.submissions };
  return job;
}

// --- raw-tx: the model calls of the claim path, as plain SQL on one pg client ---------------
const TABLES: Record<string, { table: string; columns: Record<string, string> }> = {
  job: { table: "jobs", columns: { id: "task_id" } },
  agent: { table: "agents", columns: { id: "agent_id" } },
  jobParticipant: { table: "job_participants", columns: { jobId: "task_id" } },
  jobEvent: { table: "job_events", columns: { jobId: "task_id" } },
};
const UPDATED_AT = new Set(["jobs", "agents"]);
const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function rowToModel(model: string, row: Record<string, unknown> | undefined) {
  if (!row) return null;
  const out: Record<string, unknown> = {};
  const reverse = Object.fromEntries(Object.entries(TABLES[model]!.columns).map(([k, v]) => [v, k]));
  for (const [k, v] of Object.entries(row)) out[reverse[k] ?? camel(k)] = v;
  if (model === "job") out.requiredCapabilities ??= [];
  if (model === "agent") out.capabilities ??= [];
  return out;
}

function whereSql(model: string, where: Record<string, unknown>, params: unknown[]): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(where)) {
    if (v && typeof v === "object" && !(v instanceof Date)) {
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) {
        params.push(v2);
        parts.push(`${TABLES[model]!.columns[k2] ?? snake(k2)} = $${params.length}`);
      }
    } else {
      params.push(v);
      parts.push(`${TABLES[model]!.columns[k] ?? snake(k)} = $${params.length}`);
    }
  }
  return parts.join(" AND ");
}

function modelShim(client: pg.PoolClient, model: string) {
  const { table, columns } = TABLES[model]!;
  const col = (k: string) => columns[k] ?? snake(k);
  const one = async (sql: string, params: unknown[]) => rowToModel(model, (await client.query(sql, params)).rows[0]);
  const findUnique = ({ where }: { where: Record<string, unknown> }) => {
    const params: unknown[] = [];
    return one(`SELECT * FROM ${table} WHERE ${whereSql(model, where, params)}`, params);
  };
  return {
    findUnique,
    findUniqueOrThrow: async (args: { where: Record<string, unknown> }) => {
      const row = await findUnique(args);
      if (!row) throw new Error(`${model} not found`);
      return row;
    },
    create: ({ data }: { data: Record<string, unknown> }) => {
      const entries = Object.entries(data).filter(([, v]) => v !== undefined);
      const params = entries.map(([, v]) => (v && typeof v === "object" && !(v instanceof Date) ? JSON.stringify(v) : v));
      return one(
        `INSERT INTO ${table} (id, ${entries.map(([k]) => col(k)).join(", ")}) VALUES (gen_random_uuid(), ${entries.map((_, i) => `$${i + 1}`).join(", ")}) RETURNING *`,
        params,
      );
    },
    update: ({ where, data }: { where: Record<string, unknown>; data: Record<string, unknown> }) => {
      const params: unknown[] = [];
      const sets: string[] = [];
      for (const [k, v] of Object.entries(data)) {
        if (v === undefined) continue;
        if (v && typeof v === "object" && "increment" in (v as object)) {
          params.push((v as { increment: number }).increment);
          sets.push(`${col(k)} = ${col(k)} + $${params.length}`);
        } else {
          params.push(v);
          sets.push(`${col(k)} = $${params.length}`);
        }
      }
      if (UPDATED_AT.has(table)) sets.push("updated_at = now()");
      return one(`UPDATE ${table} SET ${sets.join(", ")} WHERE ${whereSql(model, where, params)} RETURNING *`, params);
    },
  };
}

function lockFix(text: string): string {
  return exp.has("agent-lock-fix") ? text.replace(/FROM agents WHERE agent_id = \$1 FOR SHARE/, "FROM agents WHERE agent_id = $1 FOR NO KEY UPDATE") : text;
}

async function rawTransaction(fn: (tx: unknown) => Promise<unknown>) {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const tx = {
      $queryRaw: async (strings: TemplateStringsArray, ...values: unknown[]) => {
        const sql = Prisma.sql(strings, ...(values as never[]));
        return (await client.query(lockFix(sql.text), sql.values as unknown[])).rows;
      },
      job: modelShim(client, "job"),
      agent: modelShim(client, "agent"),
      jobParticipant: modelShim(client, "jobParticipant"),
      jobEvent: modelShim(client, "jobEvent"),
    };
    const result = await fn(tx);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** agent-lock-fix on Prisma's own transaction: only the one raw statement is rewritten. */
function prismaTransactionWithLockFix(fn: (tx: unknown) => Promise<unknown>, options?: unknown) {
  return prisma.$transaction(
    (tx) =>
      fn(
        new Proxy(tx, {
          get(target, prop, receiver) {
            if (prop === "$queryRaw") {
              return (strings: TemplateStringsArray, ...values: unknown[]) => {
                const sql = Prisma.sql(strings, ...(values as never[]));
                const fixed = lockFix(sql.text);
                return fixed === sql.text ? target.$queryRaw(sql) : target.$queryRawUnsafe(fixed, ...sql.values);
              };
            }
            return Reflect.get(target, prop, receiver);
          },
        }),
      ),
    options as never,
  );
}

const db = new Proxy(prisma, {
  get(target, prop, receiver) {
    if (prop === "$queryRaw" && exp.has("raw-query")) return rawQuery;
    if (prop === "$transaction" && exp.has("raw-tx")) return rawTransaction;
    if (prop === "$transaction" && exp.has("agent-lock-fix")) return prismaTransactionWithLockFix;
    if (prop === "job" && exp.has("raw-get")) {
      const delegate = Reflect.get(target, prop, receiver) as unknown as Record<string, unknown>;
      return new Proxy(delegate, {
        get(d, p) {
          if (p === "findUnique") {
            return (args: { where: { id: string }; include?: { participants?: unknown; transfers?: unknown } }) =>
              args.include?.participants && args.include?.transfers ? rawGetJob(args.where.id) : (d.findUnique as (a: unknown) => unknown)(args);
          }
          const value = Reflect.get(d, p);
          return typeof value === "function" ? value.bind(d) : value;
        },
      });
    }
    const value = Reflect.get(target, prop, receiver);
    return typeof value === "function" ? value.bind(target) : value;
  },
});
(globalThis as unknown as { __agentMarketDb?: unknown }).__agentMarketDb = db;

const { appRouter } = await import("~/server/api/root");
if (exp.has("no-output-check")) {
  for (const procedure of Object.values(appRouter._def.procedures as unknown as Record<string, { _def: { middlewares: { _type?: string }[] } }>)) {
    procedure._def.middlewares = procedure._def.middlewares.filter((m) => m._type !== "output");
  }
}

let server: http.Server;
if (exp.has("node-handler")) {
  const { createOpenApiNodeHttpHandler } = await import("trpc-to-openapi");
  const { createContext } = await import("~/server/api/trpc");
  const { toAppError } = await import("~/server/errors");
  const handler = createOpenApiNodeHttpHandler({
    router: appRouter,
    createContext: ({ req }: { req: http.IncomingMessage }) => {
      const headers = new Headers();
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
      return createContext({ headers });
    },
    responseMeta: ({ errors }: { errors: { code: string }[] }) => (errors.length > 0 ? { status: toAppError(errors[0], errors[0]!.code as never).httpStatus } : {}),
  } as never) as unknown as (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;
  server = http.createServer((req, res) => {
    req.url = (req.url ?? "/").replace(/^\/api\/v1/, "") || "/";
    // trpc-to-openapi wants a JSON content type on POSTs; claims are sent without a body.
    if (req.method === "POST" && !req.headers["content-type"]) req.headers["content-type"] = "application/json";
    void handler(req, res);
  });
} else {
  const { createAppServer } = await import("~/server/http/app-server");
  server = createAppServer();
}
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === "object" && address ? address.port : 0, exp: [...exp] })}\n`);
});
const stop = () => {
  server.close();
  server.closeAllConnections();
  const readPool = (globalThis as unknown as { __agentMarketReadPool?: pg.Pool }).__agentMarketReadPool;
  Promise.allSettled([prisma.$disconnect(), pool.end(), readPool?.end()]).finally(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
