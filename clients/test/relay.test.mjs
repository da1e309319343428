// relay-runtime's Environment against a running server, through the compiled documents.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Environment, Network, RecordSource, Store, fetchQuery, getSelector } from "relay-runtime";
import { startServer } from "../support/server.mjs";
import membersPage from "../src/__generated__/screensSegmentMembersPaginationQuery.graphql.js";
import membersFragment from "../src/__generated__/screens_segmentMembers.graphql.js";
import customerRefetch from "../src/__generated__/screensCustomerRefetchQuery.graphql.js";
import customerFragment from "../src/__generated__/screens_customer.graphql.js";

let server;
let environment;

async function gql(query, variables = {}) {
  const response = await server.authorized(server.url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

before(async () => {
  server = await startServer();
  const customers = Array.from({ length: 12 }, (_, i) => ({ id: `c${String(i).padStart(2, "0")}` }));
  await gql("mutation($c: [CustomerInput!]!) { customersUpsert(customers: $c) { userErrors { code } } }", { c: customers });
});
after(() => server?.stop());

function newEnvironment() {
  environment = new Environment({
    network: Network.create(async (params, variables) => gql(params.text, variables)),
    store: new Store(new RecordSource()),
  });
}

async function read(query, fragment, variables, at) {
  const data = await fetchQuery(environment, query, variables).toPromise();
  return environment.lookup(getSelector(fragment, at(data))).data;
}

test("a segment's members forward then backward, a customer through node, ids as customers(first:)", async () => {
  const made = await gql(
    'mutation { segmentCreate(input: {name: "all", predicate: {condition: {field: "createdAt", operator: "EXISTS"}}}) { segment { nodeId } } }',
  );
  const segmentNodeId = made.data.segmentCreate.segment.nodeId;
  const listed = await gql("{ customers(first: 100) { edges { node { id nodeId } } } }");
  const expected = listed.data.customers.edges.map((e) => e.node.id);

  // Relay's connection handler merges each page into the one connection, as a
  // screen shows them: after the last page, it holds every member in order.
  newEnvironment();
  let page;
  let cursor = null;
  for (let pages = 1; ; pages++) {
    page = await read(membersPage, membersFragment, { nodeId: segmentNodeId, count: 5, cursor }, (d) => d.node);
    assert.equal(page.members.edges.length, Math.min(5 * pages, expected.length));
    if (!page.members.pageInfo.hasNextPage) break;
    cursor = page.members.pageInfo.endCursor;
  }
  assert.deepEqual(page.members.edges.map((e) => e.node.id), expected);

  newEnvironment();
  let before = null;
  for (;;) {
    page = await read(membersPage, membersFragment, { nodeId: segmentNodeId, count: null, last: 5, before }, (d) => d.node);
    if (!page.members.pageInfo.hasPreviousPage) break;
    before = page.members.pageInfo.startCursor;
  }
  assert.deepEqual(page.members.edges.map((e) => e.node.id), expected);

  const first = listed.data.customers.edges[0].node;
  const customer = await read(customerRefetch, customerFragment, { nodeId: first.nodeId }, (d) => d.node);
  assert.equal(customer.id, first.id);
  assert.equal(customer.nodeId, first.nodeId);
});
