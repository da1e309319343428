// graphql-http's server audits (the GraphQL-over-HTTP specification's own list).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { serverAudits } from "graphql-http";
import { startServer } from "../support/server.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(() => server?.stop());

test("graphql-http audits: no error, no warning", async () => {
  const failures = [];
  for (const audit of serverAudits({ url: () => server.url, fetchFn: server.authorized })) {
    const result = await audit.fn();
    if (result.status !== "ok") failures.push(`${result.status}: ${audit.name}: ${result.reason}`);
  }
  assert.deepEqual(failures, []);
});
