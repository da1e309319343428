// A static segment picked by hand: a searchable customer list with checkboxes.
import { gql, newestWins, STALE } from "../api.js";
import { h, replace, debounce, show, pager } from "../dom.js";

export const MAX_PICKED = 20000;
const CUSTOMERS = `query Customers($search: String, $after: String) {
  customers(first: 50, search: $search, after: $after) {
    totalCount edges { node { id email name country } } pageInfo { hasNextPage endCursor }
  } }`;
const CREATE = `mutation Create($input: SegmentCreateInput!) {
  segmentCreate(input: $input) { segment { id } userErrors { field message code } } }`;

export function render(main) {
  const picked = new Set();
  const name = h("input", { id: "segment-name", placeholder: "Name" });
  const search = h("input", { type: "search", id: "pick-search", placeholder: "Search id, email, name" });
  const count = h("strong", { id: "picked-count" }, "0");
  const error = h("p", { className: "error", id: "save-error" });
  const body = h("div", {});
  const pages = pager(() => load());
  const run = newestWins();

  function toggle(id, on) {
    if (on && picked.size >= MAX_PICKED) {
      error.textContent = `A static segment holds at most ${MAX_PICKED} customers.`;
      return false;
    }
    if (on) picked.add(id);
    else picked.delete(id);
    count.textContent = String(picked.size);
    return true;
  }

  async function load() {
    const data = await run(() => gql(CUSTOMERS, { search: search.value || null, after: pages.after })).catch((e) => ({ failed: e }));
    if (data === STALE) return;
    if (data.failed) {
      replace(body, h("p", { className: "error" }, data.failed.message));
      return;
    }
    const { customers } = data;
    const boxes = customers.edges.map(({ node }) => h("input", { type: "checkbox", className: "pick", value: node.id, checked: picked.has(node.id),
      onchange: (e) => { if (!toggle(node.id, e.target.checked)) e.target.checked = false; } }));
    const all = h("button", { type: "button", id: "pick-page", onclick: () => boxes.forEach((box) => {
      if (!box.checked && toggle(box.value, true)) box.checked = true;
    }) }, "Pick this page");
    replace(body,
      h("p", { className: "muted" }, `${customers.totalCount} customer(s) match `, all),
      h("table", { id: "pick-customers" },
        h("thead", {}, h("tr", {}, ["", "id", "email", "name", "country"].map((c) => h("th", {}, c)))),
        h("tbody", {}, customers.edges.map(({ node }, i) => h("tr", {}, h("td", {}, boxes[i]),
          ["id", "email", "name", "country"].map((c) => h("td", {}, show(node[c]))))))),
      pages.controls(customers.pageInfo));
  }

  async function save() {
    error.textContent = "";
    if (!picked.size) {
      error.textContent = "Pick at least one customer.";
      return;
    }
    const { segmentCreate } = await gql(CREATE, { input: { name: name.value, customerIds: [...picked] } });
    if (segmentCreate.userErrors.length) {
      error.textContent = segmentCreate.userErrors.map((e) => e.message).join(" ");
      return;
    }
    location.hash = `#/segments/${encodeURIComponent(segmentCreate.segment.id)}`;
  }

  search.addEventListener("input", debounce(() => { pages.reset(); load(); }, 200));
  replace(main,
    h("h1", {}, "New static segment"),
    h("p", { className: "muted" }, `Pick up to ${MAX_PICKED} customers; the segment keeps exactly these.`),
    h("div", { className: "toolbar" }, name, search, h("span", {}, count, " picked"),
      h("button", { type: "button", className: "primary", id: "save", onclick: save }, "Create static segment")),
    error, body);
  load();
}
