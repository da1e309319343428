// A segment's snapshots (instances) with their measures, the diff of two, and CSV export.
import { gql } from "../api.js";
import { storedKey, canWrite } from "../session.js";
import { h, replace, when } from "../dom.js";

const INSTANCES = `query Instances($id: ID!) { segmentInstances(segmentId: $id, first: 20) {
  edges { node { id nodeId createdAt numOfCustomers numOfOrders totalRevenue } } } }`;
const TAKE = `mutation Take($id: ID!) { segmentSnapshotTake(segmentId: $id) {
  instance { id } userErrors { field message code } } }`;
const DIFF = `query Diff($node: ID!, $other: ID!) { node(id: $node) { ... on SegmentInstance {
  diff(otherInstanceId: $other, first: 20) { enteredCount leftCount entered left } } } }`;
const FIELDS = "{ segmentFields { path scope } }";

export function snapshots(segment) {
  const list = h("div", { id: "snapshots" });
  const diff = h("div", { id: "snapshot-diff" });
  const error = h("p", { className: "error" });

  async function load() {
    const { segmentInstances } = await gql(INSTANCES, { id: segment.id });
    const rows = segmentInstances.edges.map((e) => e.node);
    if (!rows.length) {
      replace(list, h("p", { className: "muted" }, "No snapshot yet."));
      return;
    }
    replace(list, h("table", {},
      h("thead", {}, h("tr", {}, ["compare", "taken", "customers", "orders", "revenue"].map((c) => h("th", {}, c)))),
      h("tbody", {}, rows.map((r) => h("tr", { dataset: { instanceId: r.id } },
        h("td", {}, h("input", { type: "checkbox", className: "compare", value: r.id, dataset: { node: r.nodeId, created: r.createdAt } })),
        h("td", {}, when(r.createdAt)), h("td", { className: "num" }, r.numOfCustomers),
        h("td", { className: "num" }, r.numOfOrders), h("td", { className: "num" }, r.totalRevenue.toFixed(2)))))),
    h("button", { type: "button", id: "compare-snapshots", onclick: compare }, "Compare the two ticked"));
  }

  async function compare() {
    const ticked = [...list.querySelectorAll(".compare:checked")];
    if (ticked.length !== 2) {
      replace(diff, h("p", { className: "error" }, "Tick exactly two snapshots."));
      return;
    }
    const [older, newer] = ticked.sort((a, b) => (a.dataset.created < b.dataset.created ? -1 : 1));
    const { node: found } = await gql(DIFF, { node: newer.dataset.node, other: older.value });
    replace(diff, h("p", { id: "diff-counts" }, `${found.diff.enteredCount} entered, ${found.diff.leftCount} left between them`),
      h("p", { className: "hint" }, [...found.diff.entered.map((id) => `+${id}`), ...found.diff.left.map((id) => `-${id}`)].join(" ")));
  }

  async function take() {
    error.textContent = "";
    const { segmentSnapshotTake } = await gql(TAKE, { id: segment.id });
    if (segmentSnapshotTake.userErrors.length) {
      error.textContent = segmentSnapshotTake.userErrors.map((e) => e.message).join(" ");
      return;
    }
    load();
  }

  load();
  return h("section", {}, h("h2", {}, "Snapshots"),
    canWrite() && h("button", { type: "button", id: "take-snapshot", onclick: take }, "Take a snapshot now"),
    error, list, diff);
}

export function exporter(segment) {
  const boxes = h("div", { className: "toolbar", id: "export-fields" });
  const status = h("span", { className: "hint" });
  gql(FIELDS).then(({ segmentFields }) => replace(boxes, segmentFields.filter((f) => f.scope == null).map((f) =>
    h("label", {}, h("input", { type: "checkbox", value: f.path, checked: f.path === "id" || f.path === "email" }), ` ${f.path}`))));

  async function download() {
    const fields = [...boxes.querySelectorAll("input:checked")].map((box) => box.value);
    const url = `/segments/${encodeURIComponent(segment.id)}/export.csv?fields=${encodeURIComponent(fields.join(","))}`;
    const response = await fetch(url, { headers: { Authorization: `Bearer ${storedKey()}` } });
    if (!response.ok) {
      status.textContent = await response.text();
      return;
    }
    const link = h("a", { href: URL.createObjectURL(await response.blob()), download: `${segment.id}.csv` });
    link.click();
    status.textContent = `Downloaded ${segment.id}.csv`;
  }

  return h("section", {}, h("h2", {}, "Export members as CSV"), boxes,
    h("button", { type: "button", id: "export-csv", onclick: download }, "Download CSV"), " ", status);
}
