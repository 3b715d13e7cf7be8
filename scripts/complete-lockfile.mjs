// The npm registry mirror here lacks some other-platform optional packages (e.g. anvil for
// macOS), so `npm install` leaves them out of package-lock.json and `npm ci` then refuses the
// lockfile ("Missing: ... from lock file"). This adds an entry for each missing platform
// package, marked optional with its os/cpu, so `npm ci` accepts the lockfile and skips them on
// this platform as it would anyway. Run it after `npm install` changes the lockfile.
import { readFileSync, writeFileSync } from "node:fs";

const path = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8"));
const packages = lock.packages;

const OS = { darwin: "darwin", linux: "linux", win32: "win32", android: "android", freebsd: "freebsd", wasm32: null };
const CPU = { amd64: "x64", x64: "x64", arm64: "arm64", arm: "arm", ia32: "ia32" };

function platformOf(name) {
  const parts = name.split("/").pop().split("-");
  const os = parts.find((p) => p in OS);
  const cpu = parts.find((p) => p in CPU);
  if (parts.includes("wasm32")) return { cpu: ["wasm32"] };
  if (!os) return null;
  return { os: [OS[os]], ...(cpu ? { cpu: [CPU[cpu]] } : {}) };
}

let added = 0;
for (const [key, entry] of Object.entries(packages)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const depKey = `node_modules/${dep}`;
    if (packages[depKey]) continue;
    const platform = platformOf(dep);
    if (!platform) continue;
    packages[depKey] = { version, ...platform, optional: true, ...(entry.dev ? { dev: true } : {}) };
    added++;
    console.log(`added ${dep}@${version} (${JSON.stringify(platform)}) for ${key || "the root"}`);
  }
}
const sorted = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))));
lock.packages = sorted;
writeFileSync(path, JSON.stringify(lock, null, 2) + "\n");
console.log(`${added} entries added`);
