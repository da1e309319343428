// Customers list (by segment, searchable, paged) and one customer's page.
import { gql, newestWins, STALE } from "../api.js";
import { h, replace, debounce, show, when, pager } from "../dom.js";

const SEGMENT_NAMES = "{ segments(first: 1000) { edges { node { id name kind } } } }";
const CUSTOMERS = `query Customers($segmentId: ID, $search: String, $after: String) {
  customers(first: 25, segmentId: $segmentId, search: $search, after: $after) {
    totalCount
    edges { node { id email name country ordersCount totalSpent lastOrderAt } }
    pageInfo { hasNextPage endCursor }
  } }`;
const CUSTOMER = `query Customer($id: ID!) { customer(id: $id) {
  id externalId email name country currency language city source paymentMethodType taxId parentId
  properties ordersCount totalSpent firstOrderAt lastOrderAt createdAt updatedAt
  segments { id name kind }
  subscriptions { id status planId amount currency startedAt }
  invoices { id status total currency issuedAt paidAt }
  orders(first: 10) { edges { node { id status amount currency placedAt } } }
  events(first: 10) { edges { node { name occurredAt properties } } }
} }`;

export async function render(main, params) {
  const { segments } = await gql(SEGMENT_NAMES);
  const chosen = params.get("segment") || "";
  const segment = h("select", { id: "customer-segment" },
    h("option", { value: "" }, "Every customer"),
    segments.edges.map(({ node }) => h("option", { value: node.id, selected: node.id === chosen }, `${node.name} (${node.kind})`)));
  const search = h("input", { type: "search", id: "customer-search", placeholder: "Search id, email, name" });
  const count = h("p", { id: "customer-count", className: "muted" });
  const body = h("div", {});
  const pages = pager(() => load());
  const run = newestWins();

  async function load() {
    const variables = { segmentId: segment.value || null, search: search.value || null, after: pages.after };
    const data = await run(() => gql(CUSTOMERS, variables)).catch((e) => ({ failed: e }));
    if (data === STALE) return;
    if (data.failed) {
      replace(body, h("p", { className: "error" }, data.failed.message));
      return;
    }
    const { customers } = data;
    count.textContent = `${customers.totalCount} customer(s)`;
    replace(body,
      h("table", { id: "customers" },
        h("thead", {}, h("tr", {}, ["id", "email", "name", "country", "orders", "spent", "last order"].map((c) => h("th", {}, c)))),
        h("tbody", {}, customers.edges.map(({ node }) => h("tr", {},
          h("td", {}, h("a", { href: `#/customers/${encodeURIComponent(node.id)}` }, node.id)),
          h("td", {}, show(node.email)), h("td", {}, show(node.name)), h("td", {}, show(node.country)),
          h("td", { className: "num" }, node.ordersCount), h("td", { className: "num" }, node.totalSpent),
          h("td", {}, when(node.lastOrderAt)))))),
      pages.controls(customers.pageInfo));
  }

  segment.addEventListener("change", () => {
    pages.reset();
    history.replaceState(null, "", segment.value ? `#/customers?segment=${encodeURIComponent(segment.value)}` : "#/customers");
    load();
  });
  search.addEventListener("input", debounce(() => { pages.reset(); load(); }, 200));
  replace(main, h("h1", {}, "Customers"), h("div", { className: "toolbar" }, segment, search), count, body);
  load();
}

const RELATED = new Set(["segments", "subscriptions", "invoices", "orders", "events"]);

export async function renderOne(main, params, id) {
  const { customer } = await gql(CUSTOMER, { id });
  if (!customer) {
    replace(main, h("p", { className: "error" }, `There is no customer ${id}.`));
    return;
  }
  const attributes = Object.entries(customer).filter(([k]) => !RELATED.has(k));
  const records = (title, rows) => [h("h2", {}, title), rows.length
    ? h("table", {}, h("tbody", {}, rows.map((r) => h("tr", {}, Object.values(r).map((v) => h("td", {}, show(v)))))))
    : h("p", { className: "muted" }, "None.")];
  replace(main,
    h("h1", {}, customer.name || customer.email || customer.id),
    h("table", { id: "customer-attributes" }, h("tbody", {},
      attributes.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, show(v)))))),
    h("h2", {}, "Segments"),
    customer.segments.length
      ? h("ul", { id: "customer-segments" }, customer.segments.map((s) => h("li", {}, h("a", { href: `#/segments/${encodeURIComponent(s.id)}` }, s.name), ` ${s.kind}`)))
      : h("p", { className: "muted" }, "In no segment."),
    records("Subscriptions", customer.subscriptions),
    records("Invoices", customer.invoices),
    records("Recent orders", customer.orders.edges.map((e) => e.node)),
    records("Recent events", customer.events.edges.map((e) => e.node)));
}
