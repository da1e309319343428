// Segments list: counts, share of base, cost and its hints; search, kind filter, delete.
import { gql, newestWins, STALE } from "../api.js";
import { canWrite } from "../session.js";
import { h, replace, debounce, percent, when, pager } from "../dom.js";

const SEGMENTS = `query Segments($search: String, $kind: SegmentKind, $after: String) {
  segments(first: 100, search: $search, kind: $kind, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node {
      id name kind editable
      stats { customerCount percentage computedAt }
      evaluationCost { plannerCost usesIndex slow hints }
      usages { kind reference }
    } }
  }
}`;

const DELETE = `mutation Delete($id: ID!) {
  segmentDelete(id: $id) { deletedSegmentId userErrors { field message code } }
}`;

export function render(main) {
  const search = h("input", { type: "search", id: "segment-search", placeholder: "Search by name" });
  const kind = h("select", { id: "kind-filter" },
    h("option", { value: "" }, "Every kind"),
    ["STATIC", "PASSIVE", "ACTIVE"].map((k) => h("option", { value: k }, k)));
  const body = h("div", {}, h("p", { className: "muted" }, "Loading…"));
  const dialog = h("dialog", { id: "confirm-delete" });
  const run = newestWins();
  const pages = pager(() => load());

  async function load() {
    const variables = { search: search.value || null, kind: kind.value || null, after: pages.after };
    try {
      const data = await run(() => gql(SEGMENTS, variables));
      if (data !== STALE) replace(body, table(data.segments, confirmDelete), pages.controls(data.segments.pageInfo));
    } catch (e) {
      replace(body, h("p", { className: "error" }, e.message));
    }
  }

  function confirmDelete(segment) {
    const error = h("p", { className: "error" });
    replace(dialog,
      h("h2", {}, `Delete “${segment.name}”?`),
      h("p", {}, `Its ${segment.stats.customerCount} members stay customers; the segment and its history go. This cannot be undone.`),
      error,
      h("p", { className: "toolbar" },
        h("button", { type: "button", className: "danger", id: "confirm-delete-yes", onclick: async () => {
          const { segmentDelete } = await gql(DELETE, { id: segment.id });
          if (segmentDelete.userErrors.length) {
            error.textContent = segmentDelete.userErrors.map((e) => e.message).join(" ");
            return;
          }
          dialog.close();
          load();
        } }, "Delete"),
        h("button", { type: "button", onclick: () => dialog.close() }, "Cancel")));
    dialog.showModal();
  }

  const again = () => { pages.reset(); load(); };
  search.addEventListener("input", debounce(again, 200));
  kind.addEventListener("change", again);
  replace(main,
    h("h1", {}, "Segments"),
    h("div", { className: "toolbar" }, search, kind,
      canWrite() && h("a", { href: "#/segments/new", id: "new-segment" }, "New segment"),
      canWrite() && h("a", { href: "#/segments/new-static", id: "new-static" }, "New static segment (pick customers)")),
    body, dialog);
  load();
}

function table(connection, confirmDelete) {
  if (!connection.edges.length) return h("p", { className: "muted" }, "No segment matches.");
  return h("table", { id: "segments" },
    h("thead", {}, h("tr", {},
      h("th", {}, "Name"), h("th", {}, "Kind"), h("th", { className: "num" }, "Customers"),
      h("th", { className: "num" }, "% of base"), h("th", {}, "Counted at"),
      h("th", {}, "Evaluation cost"), h("th", {}, ""))),
    h("tbody", {}, connection.edges.map(({ node }) => row(node, confirmDelete))),
    h("caption", { className: "hint" }, `${connection.totalCount} segment(s)`));
}

function row(segment, confirmDelete) {
  const cost = segment.evaluationCost;
  return h("tr", { dataset: { segmentId: segment.id } },
    h("td", {}, h("a", { href: `#/segments/${encodeURIComponent(segment.id)}` }, segment.name)),
    h("td", {}, h("span", { className: `tag ${segment.kind}` }, segment.kind)),
    h("td", { className: "num count" }, segment.stats.customerCount),
    h("td", { className: "num" }, percent(segment.stats.percentage)),
    h("td", {}, when(segment.stats.computedAt)),
    h("td", {},
      `${Math.round(cost.plannerCost)} ${cost.usesIndex ? "(index)" : "(scan)"} `,
      cost.slow && h("span", { className: "tag slow" }, "slow"),
      cost.hints.length > 0 && h("ul", { className: "hint" }, cost.hints.map((hint) => h("li", {}, hint)))),
    h("td", {}, actions(segment, confirmDelete)));
}

function actions(segment, confirmDelete) {
  if (!canWrite()) return null;
  const edit = segment.editable && h("a", { href: `#/segments/${encodeURIComponent(segment.id)}/edit` }, "Edit");
  if (segment.kind === "ACTIVE") {
    const holders = segment.usages.map((u) => `${u.kind} ${u.reference}`).join(", ");
    return h("span", { className: "hint not-deletable" }, `Active, so it cannot be deleted: used by ${holders}. Detach these usages first.`);
  }
  return h("span", {}, edit, " ",
    h("button", { type: "button", className: "danger delete", onclick: () => confirmDelete(segment) }, "Delete"));
}
