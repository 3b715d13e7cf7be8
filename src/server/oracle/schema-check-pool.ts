import { Worker } from "node:worker_threads";

// Buyer-supplied JSON Schemas are compiled and run here, never on the thread that serves HTTP
// and runs the background functions: a schema can cost super-linear time (uniqueItems over many
// objects, $ref fan-out), and patterns cost memory in the regular-expression engine. Each task
// runs in a worker thread with a hard time limit and V8 resource limits; a worker that overruns
// is terminated and replaced.
//
// The worker is inline JavaScript (eval) that requires ajv and re2-wasm from node_modules at run
// time: a .ts worker file would not load under tsx, vitest and Next's route bundles alike.

export type SchemaErrorReport = { keyword: string; instancePath: string; message?: string; params: Record<string, unknown> };

export type AcceptResult = {
  /**
   * Patterns RE2 cannot compile (lookaround, backreference, invalid syntax), in schema order.
   * `path` is the one given with the task; null for a pattern only Ajv's compile came across.
   */
  refusedPatterns: { path: string | null; pattern: string; reason: string }[];
  /** Ajv's compile error once every pattern was usable (invalid schema, unresolvable $ref). */
  compileError: string | null;
};

export type ValidateResult =
  | { kind: "valid" }
  | { kind: "invalid"; errors: SchemaErrorReport[]; total: number }
  | { kind: "not_json"; message: string }
  /** The schema does not compile: the task's fault, not the delivery's. */
  | { kind: "schema_invalid"; message: string }
  /** Validation recursed past the worker's stack (a recursive schema over deeply nested data). */
  | { kind: "too_deep" };

export type SchemaTask =
  /** `patterns`: every pattern in the schema with its JSON pointer, each compiled on its own. */
  | { op: "accept"; schema: unknown; patterns: { path: string; pattern: string }[] }
  | { op: "validate"; schema: unknown; content: string; artifactType: string };

type ResultOf<T extends SchemaTask> = T extends { op: "accept" } ? AcceptResult : ValidateResult;

export type SchemaTaskOutcome<R> =
  | { status: "done"; result: R }
  | { status: "timed_out"; timeoutMs: number }
  /**
   * The worker's V8 heap limit, or the regular-expression engine's fixed 16 MiB heap (twice in a
   * row, the second time from an empty heap); `pattern` is the one being compiled or run then,
   * `whileCompiling` whether the schema alone was too much (rather than the data checked).
   */
  | { status: "out_of_memory"; detail: string; pattern?: string; whileCompiling: boolean };

/** Workers kept warm per process; evaluateSubmission runs 4 at a time on a 2-core machine. */
const POOL_SIZE = 2;
const RESOURCE_LIMITS = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16, codeRangeSizeMb: 16, stackSizeMb: 4 };
const MAX_ERRORS_RETURNED = 10;

const WORKER_SOURCE = String.raw`
"use strict";
const { parentPort } = require("node:worker_threads");
const Ajv = require("ajv").default;
const Ajv2020 = require("ajv/dist/2020").default;
// re2-wasm prints its out-of-memory abort through console.warn, bound when it loads; the abort
// itself is reported to the pool, so the print is dropped.
const warn = console.warn;
console.warn = () => {};
const { RE2 } = require("re2-wasm");
console.warn = warn;

const MAX_ERRORS_RETURNED = ${MAX_ERRORS_RETURNED};
// strict: false because buyers paste schemas from anywhere ("example", unknown formats). It also
// keeps Ajv from testing patternProperties against property names with a native RegExp at compile
// time (allowMatchingProperties says the same explicitly). No formats are installed, so "format"
// is not enforced and runs no regular expression.
const OPTIONS = { allErrors: true, strict: false, logger: false, allowMatchingProperties: true };

// Meta-schema validation is shared across tasks: validateSchema never registers the buyer's
// schema, so nothing one buyer sends is visible to the next task. Compiling happens in a fresh
// Ajv per task for the same reason ($id registrations, cached patterns).
const meta = { draft7: new Ajv(OPTIONS), draft2020: new Ajv2020(OPTIONS) };

class EngineFailure extends Error {
  constructor(message, pattern) {
    super(message);
    this.pattern = pattern;
    this.whileCompiling = false;
  }
}

function isDraft2020(schema) {
  return schema !== null && typeof schema === "object" && typeof schema.$schema === "string" && schema.$schema.includes("2020-12");
}

// re2-wasm never frees a compiled expression on its own and its heap is a fixed 16 MiB, so every
// RE2 made for a task is deleted when the task ends. A WebAssembly.RuntimeError means that heap
// ran out and the module aborted: this worker is then useless and the pool replaces it.
function withPatternEngine(onRefused, run) {
  const created = [];
  const engine = (pattern) => {
    let rx;
    try {
      rx = new RE2(pattern, "u");
    } catch (error) {
      if (error instanceof WebAssembly.RuntimeError) throw new EngineFailure(error.message, pattern);
      if (!onRefused) throw error;
      onRefused(pattern, reasonOf(error));
      return { test: () => false, toString: () => "refused:" + pattern };
    }
    created.push(rx);
    return {
      test(text) {
        try {
          return rx.test(text);
        } catch (error) {
          if (error instanceof WebAssembly.RuntimeError) throw new EngineFailure(error.message, pattern);
          throw error;
        }
      },
      toString: () => rx.toString(),
    };
  };
  engine.code = "re2";
  try {
    return run(engine);
  } finally {
    for (const rx of created) {
      try {
        if (rx.wrapper && typeof rx.wrapper.delete === "function") rx.wrapper.delete();
      } catch {}
    }
  }
}

function reasonOf(error) {
  const message = error instanceof Error ? error.message : String(error);
  const head = "Invalid regular expression: /";
  let reason = message;
  if (message.startsWith(head)) {
    const cut = message.lastIndexOf("/u: ");
    if (cut >= head.length) reason = message.slice(cut + 4);
  }
  return reason.length > 200 ? reason.slice(0, 200) + "…" : reason;
}

function compile(schema, engine) {
  if (typeof schema !== "boolean" && (schema === null || typeof schema !== "object" || Array.isArray(schema))) {
    throw new Error("schema must be an object or a boolean");
  }
  const draft2020 = isDraft2020(schema);
  const metaAjv = draft2020 ? meta.draft2020 : meta.draft7;
  if (typeof schema === "object" && !metaAjv.validateSchema(schema)) {
    throw new Error("schema is invalid: " + metaAjv.errorsText(metaAjv.errors));
  }
  const options = { ...OPTIONS, validateSchema: false, code: { regExp: engine } };
  const ajv = draft2020 ? new Ajv2020(options) : new Ajv(options);
  return ajv.compile(schema);
}

function accept(task) {
  const refusedPatterns = [];
  for (const { path, pattern } of task.patterns) {
    try {
      withPatternEngine((_, reason) => refusedPatterns.push({ path, pattern, reason }), (engine) => engine(pattern));
    } catch (error) {
      if (error instanceof EngineFailure) error.whileCompiling = true;
      throw error;
    }
  }
  // Ajv decides which patterns it compiles; one the list above missed is refused all the same.
  const listed = new Set(task.patterns.map((p) => p.pattern));
  let compileError = null;
  withPatternEngine(
    (pattern, reason) => {
      if (!listed.has(pattern)) {
        listed.add(pattern);
        refusedPatterns.push({ path: null, pattern, reason });
      }
    },
    (engine) => {
      try {
        compile(task.schema, engine);
      } catch (error) {
        if (error instanceof EngineFailure) {
          error.whileCompiling = true;
          throw error;
        }
        compileError = error instanceof Error ? error.message : String(error);
      }
    },
  );
  return { refusedPatterns, compileError: refusedPatterns.length > 0 ? null : compileError };
}

function validate(task) {
  let value = task.content;
  if (task.artifactType === "json") {
    try {
      value = JSON.parse(task.content);
    } catch (error) {
      return { kind: "not_json", message: error.message };
    }
  }
  return withPatternEngine(null, (engine) => {
    let check;
    try {
      check = compile(task.schema, engine);
    } catch (error) {
      if (error instanceof EngineFailure) {
        error.whileCompiling = true;
        throw error;
      }
      return { kind: "schema_invalid", message: error instanceof Error ? error.message : String(error) };
    }
    let valid;
    try {
      valid = check(value);
    } catch (error) {
      if (error instanceof RangeError) return { kind: "too_deep" };
      throw error;
    }
    if (valid) return { kind: "valid" };
    const errors = check.errors || [];
    return {
      kind: "invalid",
      total: errors.length,
      errors: errors.slice(0, MAX_ERRORS_RETURNED).map((e) => ({ keyword: e.keyword, instancePath: e.instancePath, message: e.message, params: e.params })),
    };
  });
}

parentPort.postMessage({ ready: true });

parentPort.on("message", (task) => {
  let reply;
  try {
    reply = { id: task.id, ok: true, result: task.op === "accept" ? accept(task) : validate(task) };
  } catch (error) {
    const engineFailed = error instanceof EngineFailure || error instanceof WebAssembly.RuntimeError;
    const pattern = error instanceof EngineFailure ? error.pattern : undefined;
    const whileCompiling = error instanceof EngineFailure && error.whileCompiling;
    reply = { id: task.id, ok: false, engineFailed, pattern, whileCompiling, message: error instanceof Error ? error.message : String(error) };
  }
  parentPort.postMessage(reply);
});
`;

type Reply =
  | { ready: true }
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; engineFailed: boolean; pattern?: string; whileCompiling: boolean; message: string };

type Pending = {
  id: number;
  task: SchemaTask;
  timeoutMs: number;
  /** 1 after an engine failure: the task runs once more on a fresh worker. */
  attempt: number;
  settle: (outcome: SchemaTaskOutcome<unknown> | Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
};

/** `ready` once the worker has loaded Ajv and the pattern engine: start-up is not the task's time. */
type Slot = { worker: Worker | null; ready: boolean; running: Pending | null; timer: NodeJS.Timeout | null };

class SchemaCheckPool {
  private readonly slots: Slot[];
  private readonly queue: Pending[] = [];
  private nextId = 1;

  constructor(size: number) {
    this.slots = Array.from({ length: size }, () => ({ worker: null, ready: false, running: null, timer: null }));
  }

  run(task: SchemaTask, { timeoutMs, signal }: { timeoutMs: number; signal?: AbortSignal }): Promise<SchemaTaskOutcome<unknown>> {
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        id: this.nextId++,
        task,
        timeoutMs,
        attempt: 0,
        signal,
        settle: (outcome) => {
          if (pending.onAbort) signal?.removeEventListener("abort", pending.onAbort);
          if (outcome instanceof Error) reject(outcome);
          else resolve(outcome);
        },
      };
      if (signal) {
        // A task still waiting is dropped; one already running finishes (its time limit bounds it)
        // and its answer is ignored.
        pending.onAbort = () => {
          const index = this.queue.indexOf(pending);
          if (index >= 0) this.queue.splice(index, 1);
          pending.settle = () => {};
          reject(signal.reason);
        };
        signal.addEventListener("abort", pending.onAbort, { once: true });
      }
      this.queue.push(pending);
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.running) continue;
      if (!slot.worker) this.spawn(slot);
      if (!slot.ready) continue;
      const worker = slot.worker!;
      const pending = this.queue.shift()!;
      slot.running = pending;
      worker.ref();
      worker.postMessage({ id: pending.id, ...pending.task });
      slot.timer = setTimeout(() => {
        this.retire(slot);
        pending.settle({ status: "timed_out", timeoutMs: pending.timeoutMs });
        this.dispatch();
      }, pending.timeoutMs);
    }
  }

  private spawn(slot: Slot): void {
    const worker = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: RESOURCE_LIMITS });
    slot.worker = worker;
    slot.ready = false;
    worker.unref();
    worker.on("message", (reply: Reply) => {
      if (slot.worker !== worker) return;
      if ("ready" in reply) {
        slot.ready = true;
        // An idle worker must not keep the process alive; unref() before the thread is online
        // does not stick, so it is repeated here.
        worker.unref();
        this.dispatch();
        return;
      }
      if (!slot.running || slot.running.id !== reply.id) return;
      const pending = this.finish(slot);
      if (reply.ok) {
        pending.settle({ status: "done", result: reply.result });
      } else if (reply.engineFailed) {
        // The pattern engine's heap is gone; the next task needs a fresh one. Run this task once
        // more from an empty heap before blaming it.
        this.retire(slot);
        if (pending.attempt === 0) {
          pending.attempt = 1;
          this.queue.unshift(pending);
        } else {
          pending.settle({
            status: "out_of_memory",
            detail: "the regular-expression engine ran out of memory",
            pattern: reply.pattern,
            whileCompiling: reply.whileCompiling,
          });
        }
      } else {
        pending.settle(new Error(`schema check failed: ${reply.message}`));
      }
      this.dispatch();
    });
    worker.on("error", (error: Error & { code?: string }) => {
      if (slot.worker !== worker) return;
      const pending = slot.running ? this.finish(slot) : null;
      const starting = !slot.ready;
      this.retire(slot);
      if (pending) {
        pending.settle(
          error.code === "ERR_WORKER_OUT_OF_MEMORY"
            ? { status: "out_of_memory", detail: "the check ran out of memory", whileCompiling: false }
            : new Error(`schema check worker failed: ${error.message}`),
        );
      } else if (starting) {
        // A worker that cannot start (ajv or re2-wasm missing) would fail every task the same way.
        this.failQueued(new Error(`schema check worker failed to start: ${error.message}`));
      }
      this.dispatch();
    });
    worker.on("exit", (code) => {
      if (slot.worker !== worker) return;
      const pending = slot.running ? this.finish(slot) : null;
      const starting = !slot.ready;
      slot.worker = null;
      slot.ready = false;
      const failure = new Error(`schema check worker exited with code ${code}`);
      if (pending) pending.settle(failure);
      else if (starting) this.failQueued(failure);
      this.dispatch();
    });
  }

  private failQueued(error: Error): void {
    for (const pending of this.queue.splice(0)) pending.settle(error);
  }

  /** The slot's task is over (answered, failed or timed out): the slot is free again. */
  private finish(slot: Slot): Pending {
    const pending = slot.running!;
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    slot.running = null;
    slot.worker?.unref();
    return pending;
  }

  /** Terminates the slot's worker; the next task spawns a fresh one. */
  private retire(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    slot.running = null;
    const worker = slot.worker;
    slot.worker = null;
    slot.ready = false;
    if (worker) void worker.terminate();
  }
}

// One pool per process, even when the module is evaluated twice (Next bundles).
const globalForPool = globalThis as unknown as { __agentMarketSchemaCheckPool?: SchemaCheckPool };

function getPool(): SchemaCheckPool {
  globalForPool.__agentMarketSchemaCheckPool ??= new SchemaCheckPool(POOL_SIZE);
  return globalForPool.__agentMarketSchemaCheckPool;
}

/**
 * Runs one schema task in a worker thread. The time limit starts when a worker takes the task,
 * not while it waits for a free worker. Rejects only when the machinery itself fails (a worker
 * that cannot start or dies unexpectedly) or `signal` aborts.
 */
export async function runSchemaTask<T extends SchemaTask>(
  task: T,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<SchemaTaskOutcome<ResultOf<T>>> {
  return (await getPool().run(task, options)) as SchemaTaskOutcome<ResultOf<T>>;
}
