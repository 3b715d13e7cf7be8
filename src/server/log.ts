// Structured logs: one JSON object per line on stdout/stderr, filtered by LOG_LEVEL.
// Read from process.env directly so logging works before (and without) config validation.
// Each line carries the fields of the unit of work it was written in (request id, actor, job,
// background run: src/server/log-context.ts) and passes through the redaction of secrets
// (src/server/log-redaction.ts). A small writer of our own rather than pino: the lines need the
// context merged and secrets scrubbed from free text (error messages), which pino's path-based
// redaction does not do, and the volume (one access line per request) is far from where a
// faster serialiser would matter.
import { currentLogContext } from "./log-context";
import { redactText, redactValue } from "./log-redaction";

type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function threshold(): number {
  const level = process.env.LOG_LEVEL as Level | undefined;
  return ORDER[level ?? "info"] ?? ORDER.info;
}

export function isLogLevelEnabled(level: Level): boolean {
  return ORDER[level] >= threshold();
}

function write(level: Level, msg: string, fields: Record<string, unknown>): void {
  if (ORDER[level] < threshold()) return;
  const time = new Date().toISOString();
  let line: string;
  try {
    // The line's own fields win over the context's (e.g. a sweep naming each job it refunds).
    line = `${JSON.stringify(redactValue({ time, level, msg, ...currentLogContext(), ...fields }))}\n`;
  } catch (err) {
    // Logging never throws into the code that logs (an access line is written from an event handler).
    line = `${JSON.stringify({ time, level, msg: redactText(msg), logError: redactText(String(err)) })}\n`;
  }
  if (level === "error" || level === "warn") process.stderr.write(line);
  else process.stdout.write(line);
}

export const log = {
  debug: (msg: string, fields: Record<string, unknown> = {}) => write("debug", msg, fields),
  info: (msg: string, fields: Record<string, unknown> = {}) => write("info", msg, fields),
  warn: (msg: string, fields: Record<string, unknown> = {}) => write("warn", msg, fields),
  error: (msg: string, fields: Record<string, unknown> = {}) => write("error", msg, fields),
};
