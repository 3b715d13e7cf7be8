// The judge model for e2e runs: the integration tests' fake OpenAI-compatible server, answering
// "pass" when the delivery contains GOOD and "fail" otherwise, one criterion step each.
import { FAKE_MODEL_ID, startFakeOpenAI, type FakeOpenAI, type FakeStaticBehaviour } from "../../test/support/fake-openai-server";

export { FAKE_MODEL_ID };

/** The word a delivery must contain to pass. */
export const PASSING_MARKER = "GOOD";
export const PASSING_REASON = "Meets the rubric";
export const FAILING_REASON = "Misses the rubric";
export const JUDGED_CRITERION = "Mentions the finding";

export async function startFakeJudge(): Promise<FakeOpenAI> {
  const judge = await startFakeOpenAI();
  judge.setBehaviour((requestBody: unknown) => judgeDelivery(deliveryText(requestBody)));
  return judge;
}

function judgeDelivery(delivery: string): FakeStaticBehaviour {
  return delivery.includes(PASSING_MARKER)
    ? {
        kind: "verdict",
        score: 92,
        verdict: "pass",
        reason: PASSING_REASON,
        criteria: [{ criterion: JUDGED_CRITERION, passed: true, reasoning: "It names the finding" }],
      }
    : {
        kind: "verdict",
        score: 20,
        verdict: "fail",
        reason: FAILING_REASON,
        criteria: [{ criterion: JUDGED_CRITERION, passed: false, reasoning: "The finding is missing" }],
      };
}

/**
 * Only the DELIVERY block of the judge prompt (src/server/oracle/llm-judge.ts) decides, so a
 * task title or rubric mentioning the marker cannot make a bad delivery pass. Falls back to the
 * whole conversation if the prompt format changes.
 */
function deliveryText(requestBody: unknown): string {
  const messages = (requestBody as { messages?: Array<{ content?: unknown }> }).messages ?? [];
  const text = messages.map((message) => messageText(message.content)).join("\n");
  const delivery = /<<<BEGIN DELIVERY (\w+)>>>\n([\s\S]*?)\n<<<END DELIVERY \1>>>/.exec(text);
  return delivery?.[2] ?? text;
}

function messageText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((part) => (typeof (part as { text?: unknown }).text === "string" ? (part as { text: string }).text : "")).join("");
  }
  return "";
}
