import { formatUnits, parseUnits } from "viem";

export const USDC_DECIMALS = 6;

/** "5", "5.25" or 5.25 -> base units. Throws on more than 6 decimals or non-numbers. */
export function parseUsdc(value: string | number): bigint {
  const text = typeof value === "number" ? numberToPlainString(value) : value.trim();
  if (!/^\d+(\.\d{1,6})?$/.test(text)) {
    throw new RangeError(`"${text}" is not a USDC amount (up to 6 decimals, no sign)`);
  }
  return parseUnits(text, USDC_DECIMALS);
}

/** Base units -> "5.25" (no trailing zeros beyond what is needed). */
export function formatUsdc(baseUnits: bigint): string {
  return formatUnits(baseUnits, USDC_DECIMALS);
}

function numberToPlainString(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  // String(1e-7) is "1e-7": fixed notation keeps the decimal check honest.
  const s = String(n);
  return s.includes("e") ? n.toFixed(USDC_DECIMALS + 2).replace(/0+$/, "").replace(/\.$/, "") : s;
}

/** The worker's and the treasury's shares of a price at fee_bps (fee rounds down). */
export function splitFee(amount: bigint, feeBps: number): { net: bigint; fee: bigint } {
  const fee = (amount * BigInt(feeBps)) / 10_000n;
  return { net: amount - fee, fee };
}
