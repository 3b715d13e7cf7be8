// Experiments only (scripts/bench/experiments.ts): our server run differently, without touching
// src/, to answer "what would this buy?" with a measurement. EXP is a comma-separated list of:
//   cluster2   two worker processes (node:cluster) share the port, each with its own pools
// (V8 flags such as --max-semi-space-size are tried through NODE_OPTIONS, see experiments.ts.)
// The swaps measured earlier (count cache, no output validation, Node handler, claims on pg) are
// in src/ now; docs/performance.md keeps their figures. Prints {"port": n} first, like our-server.ts.
import cluster from "node:cluster";
import { createInterface } from "node:readline";

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
} else {
  // Workers listen on port 0 too: node:cluster hands every worker the same shared handle.
  await import("./our-server");
}
