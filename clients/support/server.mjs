// Starts `segmentql serve` on a free port for the tests, with an ADMIN key of a fresh
// workspace. With DATABASE_URL it uses that database (the tests write a workspace of their
// own there); without, segmentql's embedded PostgreSQL in a temporary data directory.
import { execFileSync, spawn } from "node:child_process";
import { createServer } from "node:net";
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = new URL("../..", import.meta.url).pathname;

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

export async function startServer() {
  const env = { ...process.env, SEGMENTQL_HOST: "127.0.0.1" };
  if (!env.DATABASE_URL && !env.SEGMENTQL_DATA_DIR) {
    env.SEGMENTQL_DATA_DIR = mkdtempSync(join(tmpdir(), "segmentql-clients-"));
  }
  const workspace = `clients-${randomUUID().slice(0, 8)}`;
  const segmentql = (...args) =>
    execFileSync("uv", ["run", "segmentql", ...args], { cwd: ROOT, env, encoding: "utf8" });
  segmentql("migrate");
  const key = segmentql("keys", "create", "--workspace", workspace, "--role", "ADMIN").trim();
  const port = await freePort();
  const child = spawn("uv", ["run", "segmentql", "serve", "--port", String(port)], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}/graphql`;
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const authorized = (input, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set("Authorization", `Bearer ${key}`);
    return fetch(input, { ...init, headers });
  };
  return { url, key, authorized, stop: () => child.kill("SIGTERM") };
}
