import { log } from "~/server/log";

// Work that must wait until a transaction has committed (enqueueing what it created: the house
// rule is "enqueue after commit"), registered by code deep inside the transaction that cannot
// see where it ends. Both transaction helpers, Prisma's $transaction (src/server/db.ts) and
// withSqlTransaction (src/server/db-sql.ts), open a list for their transaction object and run it
// after COMMIT; nothing runs on rollback.

type Callback = () => Promise<unknown>;

const pending = new WeakMap<object, Map<string, Callback>>();

/** Called by the transaction helpers when a transaction starts, with the object its work receives. */
export function openAfterCommit(tx: object): void {
  pending.set(tx, new Map());
}

/**
 * Called by the transaction helpers once the transaction has ended, before the object can serve
 * another transaction (a pooled connection is reused): what to run if it committed.
 */
export function closeAfterCommit(tx: object): AfterCommitWork {
  const callbacks = pending.get(tx);
  pending.delete(tx);
  return {
    async run(committed: boolean) {
      if (!committed || !callbacks) return;
      for (const [key, callback] of callbacks) {
        await callback().catch((err: unknown) => log.warn("after-commit work failed", { key, error: String(err) }));
      }
    },
  };
}

export interface AfterCommitWork {
  /** Runs the callbacks if the transaction committed; drops them if not. */
  run(committed: boolean): Promise<void>;
}

/**
 * Runs `callback` once the transaction `tx` commits; once per key and transaction, however often
 * it is registered. Outside a transaction (`tx` is the client itself, whose statements commit one
 * by one) it runs now.
 */
export async function afterCommit(tx: object, key: string, callback: Callback): Promise<void> {
  const callbacks = pending.get(tx);
  if (callbacks) {
    if (!callbacks.has(key)) callbacks.set(key, callback);
    return;
  }
  await callback().catch((err: unknown) => log.warn("after-commit work failed", { key, error: String(err) }));
}
