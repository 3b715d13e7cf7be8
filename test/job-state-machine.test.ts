import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Prisma, type JobStatus } from "~/generated/prisma/client";
import { startTestApp, type TestApp } from "./support/app";

// The job state machine is defined once (job-transitions.ts) and applied by two drivers: Prisma
// (transitionJob, lockJob) and the plain pg pool (the claim, the sweep's expiry). These tests
// run each transition both ways and hold the event rows to each other, and hold the SQL and
// TypeScript forms of the expiry and judged-by rules to the same answers.
let app: TestApp;
let buyerId: string;
let workerId: string;

beforeAll(async () => {
  app = await startTestApp();
  buyerId = (await app.registerAgent("sm-buyer")).agentId;
  workerId = (await app.registerAgent("sm-worker")).agentId;
});

afterAll(async () => {
  await app?.stop();
});

const modules = async () => ({
  ...(await import("~/server/services/jobs/job-transitions")),
  ...(await import("~/server/services/jobs/job-state")),
  ...(await import("~/server/db-sql")),
  ...(await import("~/server/services/jobs/expire-jobs")),
  ...(await import("~/server/services/submissions/judging-deadline")),
});

async function insertJob(status: JobStatus, expiry = new Date(Date.now() + 3_600_000)) {
  return app.db.job.create({
    data: { title: "T", description: "D", rubric: "R", price: 5_000_000n, buyerId, status, expiry, depositAmount: status === "open" ? null : 5_000_000n },
  });
}

/** What an event row says, without its id, job and time. */
async function eventsOf(jobId: string) {
  const rows = await app.db.jobEvent.findMany({ where: { jobId }, orderBy: { seq: "asc" } });
  return rows.map((e) => ({ kind: e.kind, from: e.fromStatus, to: e.toStatus, actor: e.actor, reason: e.reason, data: e.data }));
}

describe("one definition of every job transition", () => {
  it("writes the same event row through Prisma and through plain SQL, for every transition from every status it starts from", async () => {
    const m = await modules();
    const cases: { name: keyof typeof m.JOB_TRANSITIONS; from: JobStatus; input: { actor?: string; reason?: string; data?: Prisma.InputJsonValue } }[] = [];
    for (const [name, def] of Object.entries(m.JOB_TRANSITIONS) as [keyof typeof m.JOB_TRANSITIONS, (typeof m.JOB_TRANSITIONS)[keyof typeof m.JOB_TRANSITIONS]][]) {
      for (const from of def.from) {
        const actor = "actor" in def ? undefined : "sm-actor";
        cases.push({ name, from, input: { actor } });
        cases.push({ name, from, input: { actor, reason: "a reason of its own", data: { tx_hash: "0xabc", amount: "5000000", nested: { list: [1, null, "x"] } } } });
      }
    }
    expect(cases.length).toBeGreaterThan(20);
    for (const { name, from, input } of cases) {
      const viaPrisma = await insertJob(from);
      const viaSql = await insertJob(from);
      await app.db.$transaction((tx) => m.transitionJob(tx, viaPrisma, name, input));
      await m.withSqlTransaction(async (client) => {
        const row = m.transitionEventRow(name, from, input);
        await m.sqlQuery(Prisma.sql`UPDATE jobs SET status = ${row.toStatus}::"JobStatus" WHERE task_id = ${viaSql.id}::uuid`, client);
        await m.sqlQuery(m.insertJobEventsSql(viaSql.id, [row], new Date()), client);
      });
      const [a, b] = [await eventsOf(viaPrisma.id), await eventsOf(viaSql.id)];
      expect(a, `${name} from ${from}`).toHaveLength(1);
      expect(b, `${name} from ${from}`).toEqual(a);
      const def = m.JOB_TRANSITIONS[name];
      expect(a[0]).toMatchObject({ kind: def.to, from, to: def.to, actor: "actor" in def ? def.actor : "sm-actor", reason: input.reason ?? def.reason, data: input.data ?? null });
      const statuses = await app.db.job.findMany({ where: { id: { in: [viaPrisma.id, viaSql.id] } }, select: { status: true } });
      expect(statuses.map((s) => s.status)).toEqual([def.to, def.to]);
    }
  });

  it("refuses a transition from a status it does not start from, or with a second actor for a platform transition", async () => {
    const m = await modules();
    const resolved = await insertJob("resolved");
    await expect(app.db.$transaction((tx) => m.transitionJob(tx, resolved, "expire"))).rejects.toThrow(m.IllegalTransitionError);
    await expect(app.db.$transaction((tx) => m.transitionJob(tx, resolved, "cancel", { actor: buyerId }))).rejects.toThrow(/cannot start from 'resolved'/);
    const funded = await insertJob("funded");
    await expect(app.db.$transaction((tx) => m.transitionJob(tx, funded, "expire", { actor: buyerId }))).rejects.toThrow(/caused by system only/);
    await expect(app.db.$transaction((tx) => m.transitionJob(tx, funded, "cancel"))).rejects.toThrow(/needs an actor/);
    expect(await eventsOf(resolved.id)).toEqual([]);
    expect((await app.db.job.findUniqueOrThrow({ where: { id: funded.id } })).status).toBe("funded");
  });

  it("the claim on the plain pg pool writes what transitionJob and recordJobEvent write", async () => {
    const m = await modules();
    const worker = await app.registerAgent("sm-claimer");
    const viaSql = await insertJob("funded");
    const viaPrisma = await insertJob("funded");
    const claimed = await app.api("POST", `/jobs/${viaSql.id}/claim`, { key: worker.apiKey });
    expect(claimed.status, JSON.stringify(claimed.body)).toBe(200);
    await app.db.$transaction(async (tx) => {
      const job = await m.lockJob(tx, viaPrisma.id);
      await m.transitionJob(tx, job, "claim", { actor: worker.agentId });
      await m.recordJobEvent(tx, viaPrisma.id, "worker_claimed", { actor: worker.agentId });
    });
    const events = await eventsOf(viaSql.id);
    expect(events).toEqual(await eventsOf(viaPrisma.id));
    expect(events).toEqual([
      { kind: "claimed", from: "funded", to: "claimed", actor: worker.agentId, reason: "first worker claimed", data: null },
      { kind: "worker_claimed", from: null, to: null, actor: worker.agentId, reason: null, data: null },
    ]);
    // A second worker joins a claimed job: no transition, one event.
    const second = await app.registerAgent("sm-claimer-2");
    expect((await app.api("POST", `/jobs/${viaSql.id}/claim`, { key: second.apiKey })).status).toBe(200);
    expect((await eventsOf(viaSql.id)).slice(2)).toEqual([{ kind: "worker_claimed", from: null, to: null, actor: second.agentId, reason: null, data: null }]);
  });

  it("the sweep's expiry in one SQL statement writes what lockJob writes, from every status that expires", async () => {
    const m = await modules();
    const now = Date.now();
    for (const from of m.EXPIRABLE_STATUSES) {
      const viaSweep = await insertJob(from, new Date(now - 2 * 3_600_000));
      const viaLock = await insertJob(from, new Date(now - 3_600_000));
      // The sweep as of 90 minutes ago: only the first job was due then.
      await m.expireDueJobs({ db: app.db, now: new Date(now - 90 * 60_000) });
      expect((await app.db.job.findUniqueOrThrow({ where: { id: viaLock.id } })).status).toBe(from);
      await app.db.$transaction((tx) => m.lockJob(tx, viaLock.id));
      const events = await eventsOf(viaSweep.id);
      expect(events).toEqual(await eventsOf(viaLock.id));
      expect(events).toEqual([{ kind: "expired", from, to: "expired", actor: "system", reason: "expiry passed", data: null }]);
      // Swept again: nothing more happens.
      await m.expireDueJobs({ db: app.db, now: new Date(now - 90 * 60_000) });
      expect(await eventsOf(viaSweep.id)).toHaveLength(1);
    }
  });
});

describe("one expiry rule and one judged-by rule, in TypeScript and in SQL", () => {
  it("effectiveStatus, the list's status filter and the stats' grouping agree on every status around the expiry", async () => {
    const m = await modules();
    const at = new Date(Math.floor(Date.now() / 1000) * 1000 + 5 * 60_000);
    const statuses: JobStatus[] = ["open", "funded", "claimed", "resolved", "expired", "cancelled", "refunded"];
    const jobs = [];
    for (const status of statuses) for (const offset of [-1, 0, 1]) jobs.push(await insertJob(status, new Date(at.getTime() + offset)));
    const ids = jobs.map((j) => j.id);
    const rows = await app.db.$queryRaw<{ task_id: string; effective: string; past: boolean }[]>(
      Prisma.sql`SELECT j.task_id, ${m.effectiveStatusSql("j", at)} AS effective, ${m.pastExpirySql("j", at)} AS past FROM jobs j WHERE j.task_id IN (${Prisma.join(ids.map((id) => Prisma.sql`${id}::uuid`))})`,
    );
    for (const job of jobs) {
      const row = rows.find((r) => r.task_id === job.id)!;
      expect(row.effective, `${job.status} ${job.expiry.getTime() - at.getTime()} ms`).toBe(m.effectiveStatus(job, at));
      expect(row.past).toBe(m.isPastExpiry(job, at));
    }
    // Exactly at the expiry the job is expired; a millisecond before it is not.
    expect(jobs.filter((j) => m.isPastExpiry(j, at)).map((j) => j.expiry.getTime() - at.getTime())).toEqual([-1, 0, -1, 0, -1, 0]);
    for (const status of statuses) {
      const matched = await app.db.$queryRaw<{ task_id: string }[]>(
        Prisma.sql`SELECT j.task_id FROM jobs j WHERE ${m.effectiveStatusIsSql("j", status, at)} AND j.task_id IN (${Prisma.join(ids.map((id) => Prisma.sql`${id}::uuid`))})`,
      );
      expect(new Set(matched.map((r) => r.task_id)), status).toEqual(new Set(jobs.filter((j) => m.effectiveStatus(j, at) === status).map((j) => j.id)));
    }
  });

  it("a delivery's judged-by time is the same from judgingDeadline and from judgingDeadlineSql", async () => {
    const m = await modules();
    const settings = { reviewDeadlineHours: 72, expiryGraceMinutes: 30 };
    const job = await insertJob("claimed", new Date(Date.now() + 2 * 3_600_000));
    const made = new Date(Date.now() - 60_000);
    const variants = [
      { oracleMode: "manual", oracleSteps: [] },
      { oracleMode: "manual", oracleSteps: [{ name: "manual_review", passed: false }] },
      { oracleMode: "llm", oracleSteps: [] },
      // A model-mode delivery the pipeline handed to a person (steps recorded, still judging).
      { oracleMode: "llm", oracleSteps: [{ name: "json_schema_check", passed: false }, { name: "manual_review", passed: false }] },
    ];
    for (const [i, v] of variants.entries()) {
      const s = await app.db.submission.create({ data: { jobId: job.id, workerId, attempt: i + 1, content: "x", oracleMode: v.oracleMode, oracleSteps: v.oracleSteps, createdAt: made } });
      const [row] = await app.db.$queryRaw<{ due: Date; rule: string }[]>(
        Prisma.sql`SELECT ${m.judgingDeadlineSql(settings)} AS due, ${m.judgingRuleSql()} AS rule FROM submissions s JOIN jobs j ON j.task_id = s.task_id WHERE s.id = ${s.id}::uuid`,
      );
      const expected = m.judgingDeadline(s, job.expiry, settings);
      expect({ due: row!.due.toISOString(), rule: row!.rule }, `${v.oracleMode} ${v.oracleSteps.length}`).toEqual({ due: expected.dueAt.toISOString(), rule: expected.rule });
    }
    expect(m.judgingDeadline({ ...variants[0]!, createdAt: made }, job.expiry, settings)).toEqual({ rule: "manual_review", dueAt: new Date(made.getTime() + 72 * 3_600_000) });
    expect(m.judgingDeadline({ ...variants[2]!, createdAt: made }, job.expiry, settings)).toEqual({ rule: "expiry_grace", dueAt: new Date(job.expiry.getTime() + 30 * 60_000) });
  });
});
