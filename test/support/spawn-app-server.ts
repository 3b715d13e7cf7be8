import { spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";

export interface SpawnedAppServer {
  baseUrl: string;
  stop(): Promise<void>;
}

/** Starts test/support/app-server-process.ts with this process's environment plus `env`. */
export async function spawnAppServer(env: Record<string, string> = {}): Promise<SpawnedAppServer> {
  const entry = path.join(import.meta.dirname, "app-server-process.ts");
  const child = spawn(process.execPath, ["--import", "tsx", entry], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("second app server: no port after 60 s")), 60_000);
    child.once("exit", (code) => reject(new Error(`second app server exited with ${code} before listening`)));
    lines.once("line", (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
  });
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.exitCode === null && child.kill("SIGKILL"), 5_000).unref();
      }),
  };
}
