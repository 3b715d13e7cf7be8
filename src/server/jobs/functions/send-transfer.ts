import { getDb } from "~/server/db";
import { getChain } from "~/server/chain/chain";
import { defineBackgroundFunction, RetryableError } from "~/server/jobs/define";
import { sendTransfer } from "~/server/services/transfers/send-transfer";

export const sendTransferFunction = defineBackgroundFunction({
  key: "sendTransfer",
  maxAttempts: 10,
  concurrency: 4,
  timeoutSeconds: 120,
  async handler({ payload, step }) {
    const transfer = await step.run("send", async () => {
      const row = await sendTransfer({ db: getDb(), chain: getChain(), transferId: payload.transferId, waitMs: 5_000 });
      return { status: row.status, txHash: row.txHash };
    });
    // Broadcast but not yet mined: come back later rather than hold a worker.
    if (transfer.status === "sent") throw new RetryableError(`transfer ${payload.transferId} not confirmed yet`);
    return transfer;
  },
});
