/**
 * Everything this process writes to stdout and stderr, as the app's logs reach them, for tests
 * that read the log output. The writes are kept from the terminal unless TEST_APP_OUTPUT is set.
 */
export interface LogCapture {
  /** Every chunk written since the capture started, as text. */
  text(): string;
  /** The JSON lines among it, parsed. */
  lines(): Record<string, unknown>[];
  stop(): void;
}

export function captureProcessOutput(): LogCapture {
  const chunks: string[] = [];
  const streams = [process.stdout, process.stderr] as const;
  const originals = streams.map((stream) => stream.write.bind(stream));
  streams.forEach((stream, i) => {
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      if (process.env.TEST_APP_OUTPUT) return (originals[i] as (...args: unknown[]) => boolean)(chunk, ...rest);
      const callback = rest.find((arg) => typeof arg === "function") as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof stream.write;
  });
  return {
    text: () => chunks.join(""),
    lines: () =>
      chunks
        .join("")
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
    stop: () => streams.forEach((stream, i) => (stream.write = originals[i] as typeof stream.write)),
  };
}
