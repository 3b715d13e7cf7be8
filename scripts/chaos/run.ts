// npm run chaos -- --jobs 1000 [--kills 100] [--concurrency 8] [--seed 7]
// Drives jobs through every money path while killing the app and breaking the chain's RPC, then
// checks the money to the base unit. Prints its figures; exits 1 when anything did not add up.
import { parseArgs } from "node:util";
import { runChaos } from "./chaos";

const { values } = parseArgs({
  options: {
    jobs: { type: "string", default: "100" },
    kills: { type: "string" },
    concurrency: { type: "string", default: "6" },
    seed: { type: "string", default: "1" },
  },
});
const jobs = Number(values.jobs);
const started = Date.now();
const report = await runChaos({
  jobs,
  kills: values.kills === undefined ? undefined : Number(values.kills),
  concurrency: Number(values.concurrency),
  seed: Number(values.seed),
  log: (line) => console.log(`[chaos ${Math.round((Date.now() - started) / 1000)} s] ${line}`),
});
console.log(JSON.stringify(report, null, 2));
console.log(
  `\n${report.jobs} jobs (${Object.entries(report.paths).map(([p, n]) => `${p} ${n}`).join(", ")}), ${report.kills} kills, ` +
    `chain faults ${JSON.stringify(report.chainFaults)}, ${report.durationSeconds} s (settled in ${report.settleSeconds} s): ` +
    (report.problems.length === 0 ? "every dollar accounted for" : `${report.problems.length} problems`),
);
process.exit(report.problems.length === 0 ? 0 : 1);
