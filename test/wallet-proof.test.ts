import { createRequire } from "node:module";
import { createWalletClient, encodeFunctionData, getAddress, hashMessage, http, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usdcAbi } from "~/server/chain/usdc-contract";
import { parseUsdc } from "~/server/money";
import { startTestApp, type TestApp } from "./support/app";
import { inAnHour } from "./support/jobs";

const solc = createRequire(import.meta.url)("solc") as { compile(input: string): string };

// Issue 7, item 1: a deposit funds a job only when it comes from a wallet its buyer proved it
// controls (a signed EIP-4361 challenge naming the agent, the wallet and the chain). Real
// Postgres, real anvil, real HTTP; signatures are made with real keys.

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(async () => {
  await app?.stop();
});

type Agent = Awaited<ReturnType<TestApp["registerAgent"]>>;

/** A key holding ETH for gas that no agent has claimed yet. */
async function freshKey(): Promise<{ key: Hex; address: Address }> {
  const key = generatePrivateKey();
  const address = privateKeyToAccount(key).address;
  await app.fundGas(address);
  return { key, address };
}

async function postJob(buyer: Agent, price = "10") {
  const created = await app.api("POST", "/jobs", {
    key: buyer.apiKey,
    body: { title: "Summarise", description: "Summarise the article", rubric: "1. Mentions the finding", price, expiry: inAnHour() },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.task_id as string;
}

async function challenge(agent: { agentId: string; apiKey: string }, wallet: Address) {
  const res = await app.api("POST", `/agents/${agent.agentId}/wallet/challenge`, { key: agent.apiKey, body: { wallet_address: wallet } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { message: string; nonce: string; wallet_address: string; expires_at: string };
}

const sign = (key: Hex, message: string) => privateKeyToAccount(key).signMessage({ message });
const prove = (agent: { agentId: string; apiKey: string }, message: string, signature: string) =>
  app.api("POST", `/agents/${agent.agentId}/wallet`, { key: agent.apiKey, body: { message, signature } });

describe("the reproduction: an attacker names the wallet that sent a victim's deposit", () => {
  it("fails at the attacker's fund call, and the victim funds with the same deposit afterwards", async () => {
    const victim = await app.registerAgent("victim", { wallet: true });
    const attacker = await app.registerAgent("attacker", { wallet: true });
    const accomplice = await app.registerAgent("accomplice", { wallet: true });
    const victimJob = await postJob(victim);
    const attackerJob = await postJob(attacker);

    // The victim's deposit is on chain, confirmed, not yet used to fund anything.
    await app.mintUsdc(victim.wallet!, "10");
    const deposit = await app.transferUsdc(victim.privateKey!, app.opsAddress, "10");
    await app.mine(12);
    const opsBefore = await app.balanceOf(app.opsAddress);

    // The attacker points its profile at the victim's wallet: allowed (it is where payouts go), but unproven.
    const patched = await app.api("PATCH", "/agents/attacker", { key: attacker.apiKey, body: { wallet_address: victim.wallet } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ wallet_address: getAddress(victim.wallet!), wallet_verified: false, wallet_verified_at: null });

    const stolen = await app.api("POST", `/jobs/${attackerJob}/fund`, { key: attacker.apiKey, body: { tx_hash: deposit } });
    expect(stolen.status).toBe(403);
    expect(stolen.body.error.code).toBe("WALLET_NOT_PROVEN");
    expect(stolen.body.error.details).toMatchObject({ field: "wallet_address", challenge: "/agents/attacker/wallet/challenge", prove: "/agents/attacker/wallet" });
    expect(stolen.body.error.message).toContain("POST /agents/attacker/wallet/challenge");

    // Nor can it prove the victim's wallet: it can get a challenge, but only signs with its own key.
    const forVictimWallet = await challenge(attacker, victim.wallet!);
    const forged = await prove(attacker, forVictimWallet.message, await sign(attacker.privateKey!, forVictimWallet.message));
    expect(forged.status).toBe(400);
    expect(forged.body.error).toMatchObject({ code: "WALLET_SIGNATURE_INVALID", details: { field: "signature" } });
    const again = await app.api("POST", `/jobs/${attackerJob}/fund`, { key: attacker.apiKey, body: { tx_hash: deposit } });
    expect(again.body.error.code).toBe("WALLET_NOT_PROVEN");

    // Proving its own wallet again does not help either: the deposit did not come from it.
    await app.proveWallet(attacker, attacker.privateKey!);
    const fromOwnWallet = await app.api("POST", `/jobs/${attackerJob}/fund`, { key: attacker.apiKey, body: { tx_hash: deposit } });
    expect(fromOwnWallet.status).toBe(400);
    expect(fromOwnWallet.body.error.code).toBe("DEPOSIT_NOT_FROM_BUYER");

    // The victim's deposit is still the victim's.
    const funded = await app.api("POST", `/jobs/${victimJob}/fund`, { key: victim.apiKey, body: { tx_hash: deposit } });
    expect(funded.status, JSON.stringify(funded.body)).toBe(200);
    expect(funded.body).toMatchObject({ status: "funded", deposit_tx_hash: deposit, deposit_amount: "10" });
    expect((await app.api("GET", `/jobs/${attackerJob}`)).body.status).toBe("open");

    // The attacker's job cannot be worked, so nothing can be paid from it: on chain nothing moved
    // to the attacker or its accomplice, and the deposit sits with the operations wallet.
    const claim = await app.api("POST", `/jobs/${attackerJob}/claim`, { key: accomplice.apiKey });
    expect(claim.body.error.code).toBe("JOB_NOT_FUNDED");
    await app.mine(2);
    expect(await app.balanceOf(accomplice.wallet!)).toBe(0n);
    expect(await app.balanceOf(attacker.wallet!)).toBe(0n);
    expect(await app.balanceOf(app.opsAddress)).toBe(opsBefore);
    const transfers = await app.db.transfer.findMany({ where: { agentId: { in: ["attacker", "accomplice"] } } });
    expect(transfers).toEqual([]);
  });
});

describe("proving a wallet", () => {
  it("sets the wallet as proven with the time, for the agent itself over REST", async () => {
    const { key, address } = await freshKey();
    const agent = await app.registerAgent("prover");
    const issued = await challenge(agent, address);
    expect(issued.wallet_address).toBe(address);
    expect(new Date(issued.expires_at).getTime() - Date.now()).toBeGreaterThan(9 * 60_000);
    expect(new Date(issued.expires_at).getTime() - Date.now()).toBeLessThanOrEqual(10 * 60_000);
    // An EIP-4361 message naming what is proven: the wallet, the agent, the chain, a one-time nonce.
    expect(issued.message).toContain("wants you to sign in with your Ethereum account:\n" + address);
    expect(issued.message).toContain(`${address} is the wallet of agent prover on Agent Market.`);
    expect(issued.message).toContain("\nChain ID: 31337\n");
    expect(issued.message).toContain(`\nNonce: ${issued.nonce}\n`);
    expect(issued.message).toContain("\nRequest ID: agent:prover\n");

    const proven = await prove(agent, issued.message, await sign(key, issued.message));
    expect(proven.status, JSON.stringify(proven.body)).toBe(200);
    expect(proven.body).toMatchObject({ agent_id: "prover", wallet_address: address, wallet_verified: true });
    expect(Date.parse(proven.body.wallet_verified_at)).toBeGreaterThan(Date.now() - 60_000);
    expect((await app.api("GET", "/agents/prover")).body).toMatchObject({ wallet_address: address, wallet_verified: true });
  });

  it("refuses a signature by another key, and the wallet stays unproven", async () => {
    const victim = await freshKey();
    const attacker = await app.registerAgent("sig-attacker", { wallet: true });
    const issued = await challenge(attacker, victim.address);
    const res = await prove(attacker, issued.message, await sign(attacker.privateKey!, issued.message));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("WALLET_SIGNATURE_INVALID");
    expect(res.body.error.details).toMatchObject({ field: "signature", wallet_address: victim.address });
    // Its own, proven wallet is untouched.
    expect((await app.api("GET", "/agents/sig-attacker")).body).toMatchObject({ wallet_address: attacker.wallet, wallet_verified: true });
    // A signature too short to be any wallet's is refused the same way; bad hex is a validation error.
    expect((await prove(attacker, issued.message, "0x1234")).body.error.code).toBe("WALLET_SIGNATURE_INVALID");
    const notHex = await prove(attacker, issued.message, "0xnothex");
    expect(notHex.status).toBe(400);
    expect(notHex.body.error.details.fields).toHaveProperty("signature");
    // The refused attempts did not use the challenge up: the wallet's real holder can still use it.
    expect((await prove(attacker, issued.message, await sign(victim.key, issued.message))).status).toBe(200);
  });

  it("uses each challenge once: a replay is 409", async () => {
    const { key, address } = await freshKey();
    const agent = await app.registerAgent("replayer");
    const issued = await challenge(agent, address);
    const signature = await sign(key, issued.message);
    expect((await prove(agent, issued.message, signature)).status).toBe(200);
    const replay = await prove(agent, issued.message, signature);
    expect(replay.status).toBe(409);
    expect(replay.body.error).toMatchObject({ code: "WALLET_CHALLENGE_USED", details: { field: "message" } });

    // Two proofs with one challenge at the same moment: exactly one wins.
    const second = await challenge(agent, address);
    const secondSignature = await sign(key, second.message);
    const raced = await Promise.all([0, 1, 2].map(() => prove(agent, second.message, secondSignature)));
    expect(raced.map((r) => r.status).sort()).toEqual([200, 409, 409]);
  });

  it("refuses a challenge issued for another agent, even a valid signed one, without using it up", async () => {
    const holder = await freshKey();
    const owner = await app.registerAgent("nonce-owner");
    const thief = await app.registerAgent("nonce-thief");
    const issued = await challenge(owner, holder.address);
    const signature = await sign(holder.key, issued.message);
    const stolen = await prove(thief, issued.message, signature);
    expect(stolen.status).toBe(400);
    expect(stolen.body.error).toMatchObject({ code: "WALLET_CHALLENGE_INVALID", details: { field: "message", reason: "other_agent" } });
    expect((await app.api("GET", "/agents/nonce-thief")).body).toMatchObject({ wallet_address: null, wallet_verified: false });
    expect((await prove(owner, issued.message, signature)).status).toBe(200);
  });

  it("refuses a message for another chain, an altered message and an unknown nonce", async () => {
    const { key, address } = await freshKey();
    const victim = await freshKey();
    const agent = await app.registerAgent("chain-hopper");
    const issued = await challenge(agent, address);

    const otherChain = issued.message.replace("\nChain ID: 31337\n", "\nChain ID: 1\n");
    expect(otherChain).not.toBe(issued.message);
    const wrongChain = await prove(agent, otherChain, await sign(key, otherChain));
    expect(wrongChain.status).toBe(400);
    expect(wrongChain.body.error).toMatchObject({ code: "WALLET_CHALLENGE_INVALID", details: { field: "message", reason: "wrong_chain", chain_id: 31337 } });

    // A challenge for my own wallet, edited to name someone else's and signed by the victim's key
    // (say, phished with the edited text): not the text that was issued.
    const otherAddress = issued.message.replaceAll(address, victim.address);
    const altered = await prove(agent, otherAddress, await sign(victim.key, otherAddress));
    expect(altered.status).toBe(400);
    expect(altered.body.error).toMatchObject({ code: "WALLET_CHALLENGE_INVALID", details: { reason: "altered" } });

    const made = issued.message.replace(`Nonce: ${issued.nonce}`, "Nonce: MadeUpNonce12345");
    const unknown = await prove(agent, made, await sign(key, made));
    expect(unknown.body.error).toMatchObject({ code: "WALLET_CHALLENGE_INVALID", details: { reason: "unknown_nonce" } });

    const prose = await prove(agent, "I am the owner of this wallet", await sign(key, "I am the owner of this wallet"));
    expect(prose.body.error).toMatchObject({ code: "WALLET_CHALLENGE_INVALID", details: { reason: "not_a_challenge" } });
    const huge = await prove(agent, "x".repeat(5000), "0x00");
    expect(huge.status).toBe(400);
    expect(huge.body.error.details.fields).toHaveProperty("message");

    expect((await app.api("GET", "/agents/chain-hopper")).body.wallet_verified).toBe(false);
    // The untouched challenge still works for the wallet it names.
    expect((await prove(agent, issued.message, await sign(key, issued.message))).status).toBe(200);
  });

  it("refuses an expired challenge", async () => {
    const { key, address } = await freshKey();
    const agent = await app.registerAgent("latecomer");
    const issued = await challenge(agent, address);
    // Eleven minutes pass (the challenge is valid for ten).
    await app.db.walletChallenge.update({ where: { nonce: issued.nonce }, data: { expiresAt: new Date(Date.now() - 60_000) } });
    const late = await prove(agent, issued.message, await sign(key, issued.message));
    expect(late.status).toBe(400);
    expect(late.body.error).toMatchObject({ code: "WALLET_CHALLENGE_EXPIRED", details: { field: "message" } });
    expect((await app.api("GET", "/agents/latecomer")).body.wallet_verified).toBe(false);
  });

  it("is for the agent, its owner or an admin only; a bad wallet address is a 400 naming it", async () => {
    const { key, address } = await freshKey();
    const agent = await app.registerAgent("guarded");
    const other = await app.registerAgent("guarded-other");
    const foreignChallenge = await app.api("POST", "/agents/guarded/wallet/challenge", { key: other.apiKey, body: { wallet_address: address } });
    expect(foreignChallenge.status).toBe(403);
    const issued = await challenge(agent, address);
    expect((await app.api("POST", "/agents/guarded/wallet", { key: other.apiKey, body: { message: issued.message, signature: await sign(key, issued.message) } })).status).toBe(403);
    expect((await app.api("POST", "/agents/guarded/wallet/challenge", { body: { wallet_address: address } })).status).toBe(401);
    const badWallet = await app.api("POST", "/agents/guarded/wallet/challenge", { key: agent.apiKey, body: { wallet_address: "0x123" } });
    expect(badWallet.status).toBe(400);
    expect(badWallet.body.error).toMatchObject({ code: "INVALID_WALLET", details: { field: "wallet_address" } });
  });
});

describe("funding needs a proven wallet", () => {
  it("refuses an unproven wallet's own deposit until the wallet is proven (the same Idempotency-Key then works)", async () => {
    const { key, address } = await freshKey();
    // Registered with the address only: unproven.
    const buyer = await app.registerAgent("unproven-buyer", { wallet: address });
    expect((await app.api("GET", "/agents/unproven-buyer")).body).toMatchObject({ wallet_address: address, wallet_verified: false, wallet_verified_at: null });
    const job = await postJob(buyer, "5");
    await app.mintUsdc(address, "5");
    const deposit = await app.transferUsdc(key, app.opsAddress, "5");
    await app.mine(12);
    const headers = { "Idempotency-Key": "fund-unproven" };
    const refused = await app.api("POST", `/jobs/${job}/fund`, { key: buyer.apiKey, body: { tx_hash: deposit }, headers });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: "WALLET_NOT_PROVEN", details: { field: "wallet_address", wallet_address: address } });

    await app.proveWallet(buyer, key);
    const funded = await app.api("POST", `/jobs/${job}/fund`, { key: buyer.apiKey, body: { tx_hash: deposit }, headers });
    expect(funded.status, JSON.stringify(funded.body)).toBe(200);
    expect(funded.body.status).toBe("funded");
  });

  it("loses the proof when PATCH changes the wallet; an earlier deposit does not follow the change", async () => {
    const buyer = await app.registerAgent("switcher", { wallet: true });
    const first = buyer.wallet!;
    const second = await freshKey();
    const job = await postJob(buyer, "4");
    await app.mintUsdc(first, "4");
    const deposit = await app.transferUsdc(buyer.privateKey!, app.opsAddress, "4");
    await app.mine(12);

    // Setting the same address again keeps the proof.
    const same = await app.api("PATCH", "/agents/switcher", { key: buyer.apiKey, body: { wallet_address: first.toLowerCase() } });
    expect(same.body).toMatchObject({ wallet_address: first, wallet_verified: true });
    const provenAt = same.body.wallet_verified_at;
    expect(provenAt).not.toBeNull();

    const changed = await app.api("PATCH", "/agents/switcher", { key: buyer.apiKey, body: { wallet_address: second.address } });
    expect(changed.body).toMatchObject({ wallet_address: second.address, wallet_verified: false, wallet_verified_at: null });
    expect((await app.api("POST", `/jobs/${job}/fund`, { key: buyer.apiKey, body: { tx_hash: deposit } })).body.error.code).toBe("WALLET_NOT_PROVEN");

    // Changing back does not bring the old proof back.
    const back = await app.api("PATCH", "/agents/switcher", { key: buyer.apiKey, body: { wallet_address: first } });
    expect(back.body).toMatchObject({ wallet_address: first, wallet_verified: false });
    expect((await app.api("POST", `/jobs/${job}/fund`, { key: buyer.apiKey, body: { tx_hash: deposit } })).body.error.code).toBe("WALLET_NOT_PROVEN");
    const removed = await app.api("PATCH", "/agents/switcher", { key: buyer.apiKey, body: { wallet_address: null } });
    expect(removed.body).toMatchObject({ wallet_address: null, wallet_verified: false, wallet_verified_at: null });

    // Proving a new wallet does not make the deposit from the old one usable.
    await app.proveWallet(buyer, second.key);
    const fromOld = await app.api("POST", `/jobs/${job}/fund`, { key: buyer.apiKey, body: { tx_hash: deposit } });
    expect(fromOld.status).toBe(400);
    expect(fromOld.body.error.code).toBe("DEPOSIT_NOT_FROM_BUYER");
    // Proving the first wallet again does.
    await app.proveWallet(buyer, buyer.privateKey!);
    expect((await app.api("POST", `/jobs/${job}/fund`, { key: buyer.apiKey, body: { tx_hash: deposit } })).status).toBe(200);
  });
});

// A minimal contract wallet: its owner approves message hashes (ERC-1271), and it can call any
// contract, e.g. to send USDC.
const CONTRACT_WALLET_SOURCE = `
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract ApprovingWallet {
    address public owner;
    mapping(bytes32 => bool) public approved;
    constructor(address o) { owner = o; }
    function approve(bytes32 h) external { require(msg.sender == owner, "owner"); approved[h] = true; }
    function execute(address to, bytes calldata data) external { require(msg.sender == owner, "owner"); (bool ok, ) = to.call(data); require(ok, "call"); }
    function isValidSignature(bytes32 h, bytes calldata) external view returns (bytes4) { return approved[h] ? bytes4(0x1626ba7e) : bytes4(0xffffffff); }
}`;

describe("contract wallets (ERC-1271)", () => {
  it("proves a contract wallet through the chain and funds from it; an unapproved message is refused", async () => {
    const output = JSON.parse(
      solc.compile(
        JSON.stringify({
          language: "Solidity",
          sources: { "ApprovingWallet.sol": { content: CONTRACT_WALLET_SOURCE } },
          settings: { evmVersion: "cancun", outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } } },
        }),
      ),
    );
    const compiled = output.contracts["ApprovingWallet.sol"].ApprovingWallet;
    const owner = await freshKey();
    const ownerClient = createWalletClient({ account: privateKeyToAccount(owner.key), chain: foundry, transport: http(app.rpcUrl) });
    const deployed = await app.publicClient.waitForTransactionReceipt({
      hash: await ownerClient.deployContract({ abi: compiled.abi, bytecode: `0x${compiled.evm.bytecode.object}`, args: [owner.address] }),
    });
    const contractWallet = getAddress(deployed.contractAddress!);
    const call = async (functionName: string, args: unknown[]) =>
      app.publicClient.waitForTransactionReceipt({ hash: await ownerClient.writeContract({ address: contractWallet, abi: compiled.abi, functionName, args }) });

    // This wallet ignores the signature's bytes (it approved the hash); 65 of them, like a real one.
    const contractSignature = `0x${"00".repeat(65)}`;
    const buyer = await app.registerAgent("contract-buyer");
    const refused = await challenge(buyer, contractWallet);
    const unapproved = await prove(buyer, refused.message, contractSignature);
    expect(unapproved.status).toBe(400);
    expect(unapproved.body.error.code).toBe("WALLET_SIGNATURE_INVALID");

    const issued = await challenge(buyer, contractWallet);
    await call("approve", [hashMessage(issued.message)]);
    const proven = await prove(buyer, issued.message, contractSignature);
    expect(proven.status, JSON.stringify(proven.body)).toBe(200);
    expect(proven.body).toMatchObject({ wallet_address: contractWallet, wallet_verified: true });

    const job = await postJob(buyer, "3");
    await app.mintUsdc(contractWallet, "3");
    const transfer = await call("execute", [app.usdcAddress, encodeFunctionData({ abi: usdcAbi, functionName: "transfer", args: [app.opsAddress, parseUsdc("3")] })]);
    await app.mine(12);
    const funded = await app.api("POST", `/jobs/${job}/fund`, { key: buyer.apiKey, body: { tx_hash: transfer.transactionHash } });
    expect(funded.status, JSON.stringify(funded.body)).toBe(200);
    expect(funded.body).toMatchObject({ status: "funded", deposit_amount: "3" });
  });
});
