import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createPublicClient, createWalletClient, http, parseEther, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import { ANVIL_DEV_PRIVATE_KEYS, startDurableAnvil } from "~/server/dev/anvil";

// The embedded dev chain must not lose mined blocks when the app dies: `npm start` runs it in a
// session of its own, and the next start uses the chain that is still running.
const dataDir = mkdtempSync(path.join(os.tmpdir(), "agent-market-chain-"));
const stops: Array<() => Promise<void>> = [];

afterAll(async () => {
  for (const stop of stops) await stop().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

function startAppStandIn(): Promise<{ pid: number; rpcUrl: string }> {
  // Its own process group, like the app under a supervisor; the test kills the whole group.
  const child = spawn(process.execPath, ["--import", "tsx", path.join(import.meta.dirname, "support", "durable-anvil-child.ts"), dataDir], {
    cwd: path.join(import.meta.dirname, ".."),
    detached: true,
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /RPC (\S+)\n/.exec(out);
      if (match) resolve({ pid: child.pid!, rpcUrl: match[1]! });
    });
    child.once("exit", (code) => reject(new Error(`stand-in exited with ${code}: ${out}`)));
  });
}

describe("the embedded dev chain", () => {
  it("keeps every mined block when the app's whole process group is killed, and the next start uses it", async () => {
    const app = await startAppStandIn();
    const account = privateKeyToAccount(ANVIL_DEV_PRIVATE_KEYS[3] as Hex);
    const wallet = createWalletClient({ account, chain: foundry, transport: http(app.rpcUrl) });
    const client = createPublicClient({ chain: foundry, transport: http(app.rpcUrl), cacheTime: 0 });
    const payee = "0x000000000000000000000000000000000000bEEF" as const;
    const hash = await wallet.sendTransaction({ to: payee, value: parseEther("1.5") });
    const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 100 });

    // A crash: SIGKILL to the app and everything in its process group, no shutdown hooks.
    process.kill(-app.pid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 300));
    expect(await client.getTransactionReceipt({ hash })).toMatchObject({ blockNumber: receipt.blockNumber, status: "success" });
    expect(await client.getBalance({ address: payee })).toBe(parseEther("1.5"));

    const next = await startDurableAnvil({ dataDir, blockTimeSeconds: 1 });
    stops.push(next.stop);
    expect(next.reused).toBe(true);
    expect(next.rpcUrl).toBe(app.rpcUrl);
    expect(await client.getTransactionReceipt({ hash })).toMatchObject({ blockNumber: receipt.blockNumber });

    // A deliberate stop ends it and leaves the state file for a cold start.
    await next.stop();
    expect(existsSync(path.join(dataDir, "anvil-state.json"))).toBe(true);
    await expect(client.getBlockNumber()).rejects.toThrow();
    const cold = await startDurableAnvil({ dataDir, blockTimeSeconds: 1 });
    stops.push(cold.stop);
    expect(cold.reused).toBe(false);
    const coldClient = createPublicClient({ chain: foundry, transport: http(cold.rpcUrl), cacheTime: 0 });
    expect(await coldClient.getBalance({ address: payee })).toBe(parseEther("1.5"));
  });
});
