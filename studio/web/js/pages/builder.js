// Builder (create and edit): name, description, rules (or the advanced JSON tree),
// a live preview that follows every change, and on an edit the impact before saving.
import { gql, newestWins, STALE, conditionAddress } from "../api.js";
import { canWrite } from "../session.js";
import { h, replace, debounce, percent, show, pager } from "../dom.js";
import { rulesOf, predicateOf, columnsOf } from "../rules.js";
import { editor } from "../rule-editor.js";

const FIELDS = `{ segmentFields { path type operators allowedValues scope description }
  segments(first: 1000) { edges { node { id name } } } }`;
const SEGMENT = "query Segment($id: ID!) { segment(id: $id) { id name description kind editable predicate } }";
const ERRORS = "userErrors { field message code }";
const IMPACT = `query Impact($id: ID!, $p: JSON!) { segmentImpact(segmentId: $id, predicate: $p) { ${ERRORS}
  leaving { count customers(first: 5) { edges { node { id email } } } }
  entering { count customers(first: 5) { edges { node { id email } } } } } }`;
const CREATE = `mutation Create($input: SegmentCreateInput!) { segmentCreate(input: $input) { segment { id } ${ERRORS} } }`;
const UPDATE = `mutation Update($id: ID!, $input: SegmentUpdateInput!) { segmentUpdate(id: $id, input: $input) { segment { id } ${ERRORS} } }`;
const COUNT = `query Count($p: JSON!, $search: String) {
  segmentPreview(predicate: $p, first: 1, search: $search) { userErrors { code } totalCount percentage } }`;
const DEBOUNCE_MS = 250;

function previewQuery(columns) {
  const values = columns.map((path, i) => `c${i}: value(field: ${JSON.stringify(path)})`).join(" ");
  return `query Preview($p: JSON!, $after: String, $search: String) {
    segmentPreview(predicate: $p, first: 20, after: $after, search: $search) {
      ${ERRORS}
      members { edges { node { id email ${values} } } pageInfo { hasNextPage endCursor } }
    } }`;
}

export async function render(main, params, segmentId) {
  replace(main, h("p", { className: "muted" }, "Loading…"));
  const [{ segmentFields, segments }, existing] = await Promise.all([
    gql(FIELDS),
    segmentId ? gql(SEGMENT, { id: segmentId }).then((d) => d.segment) : null,
  ]);
  if (segmentId && !existing) {
    replace(main, h("p", { className: "error" }, `There is no segment ${segmentId}.`));
    return;
  }
  if (existing && !existing.editable) {
    replace(main, h("p", {}, `A ${existing.kind} segment's rules cannot change. `,
      h("a", { href: `#/segments/${encodeURIComponent(existing.id)}` }, "Back to the segment")));
    return;
  }
  const others = segments.edges.map((e) => e.node).filter((s) => s.id !== segmentId);
  const groups = rulesOf(existing ? existing.predicate : null);
  const state = { groups: groups || [], advanced: groups === null };

  const name = h("input", { id: "segment-name", value: existing ? existing.name : "", required: true });
  const nameError = h("span", { className: "error", id: "name-error" });
  const description = h("textarea", { id: "segment-description", value: (existing && existing.description) || "" });
  const rules = h("div", { id: "rules" });
  const json = h("textarea", { id: "advanced-json", spellcheck: false, oninput: () => schedule() });
  const advanced = h("div", { className: "advanced", hidden: !state.advanced }, h("p", { className: "hint" },
    "Any and / or / not tree (nested groups, a NOT over a group, related conditions of several kinds), as in docs/predicates.md."), json);
  const ruleErrors = h("div", { className: "error", id: "rule-errors", role: "alert" });
  const toggle = h("button", { type: "button", id: "toggle-advanced", onclick: () => switchMode() });
  const freeze = h("input", { type: "checkbox", id: "freeze" });
  const saveError = h("p", { className: "error", id: "save-error" });
  const save = h("button", { type: "button", className: "primary", id: "save", onclick: () => submit() },
    existing ? "Save changes" : "Create segment");

  const summary = h("p", { id: "preview-summary", className: "muted" }, "Add a condition to see who matches.");
  const search = h("input", { type: "search", id: "preview-search", placeholder: "Search the preview", oninput: debounce(() => { pages.reset(); refresh(); }, DEBOUNCE_MS) });
  const table = h("div", { id: "preview-table" });
  const impact = h("div", { className: "impact", id: "impact", hidden: !existing });
  const pages = pager(() => refresh());
  const previews = newestWins();
  const counts = newestWins();
  const impacts = newestWins();

  json.value = state.advanced ? JSON.stringify(existing.predicate, null, 2) : "";
  if (state.advanced) ruleErrors.textContent = existing ? "These rules are not an OR of AND groups of rows: edit them as JSON." : "";

  function predicate() {
    if (!state.advanced) return { value: predicateOf(state.groups) };
    try {
      return { value: JSON.parse(json.value) };
    } catch (e) {
      return { problem: `Not JSON: ${e.message}` };
    }
  }

  function switchMode() {
    if (!state.advanced) {
      json.value = JSON.stringify(predicateOf(state.groups), null, 2);
      state.advanced = true;
    } else {
      const read = predicate().value === undefined ? null : rulesOf(predicate().value);
      if (read === null) {
        ruleErrors.textContent = "This predicate is not an OR of AND groups of rows: keep editing it as JSON.";
        return;
      }
      state.groups.splice(0, state.groups.length, ...read);
      state.advanced = false;
      editor(rules, segmentFields, state.groups, () => schedule(), others);
    }
    drawMode();
    schedule();
  }

  function drawMode() {
    rules.hidden = state.advanced;
    advanced.hidden = !state.advanced;
    toggle.textContent = state.advanced ? "Back to rule groups" : "Advanced (JSON tree)";
  }

  function showErrors(userErrors) {
    for (const slot of main.querySelectorAll(".condition-error")) slot.textContent = "";
    const unplaced = [];
    for (const error of userErrors) {
      const address = state.advanced ? null : conditionAddress(error.field);
      const slot = address && main.querySelector(`.condition[data-address="${address}"] .condition-error`);
      if (slot) slot.textContent = error.message;
      else unplaced.push(`${(error.field || []).join(".")}: ${error.message}`);
    }
    ruleErrors.textContent = unplaced.join("\n");
  }

  const schedule = debounce(() => { pages.reset(); refresh(); }, DEBOUNCE_MS);

  async function refresh() {
    const { value, problem } = predicate();
    if (problem || value == null) {
      ruleErrors.textContent = problem || "";
      summary.textContent = "Add a condition to see who matches.";
      replace(table);
      return;
    }
    const columns = columnsOf(value);
    const variables = { p: value, after: pages.after, search: search.value || null };
    const found = await previews(() => gql(previewQuery(columns), variables)).catch((e) => ({ failed: e }));
    if (found === STALE) return;
    if (found.failed) {
      ruleErrors.textContent = found.failed.message;
      return;
    }
    const preview = found.segmentPreview;
    showErrors(preview.userErrors);
    if (preview.userErrors.length) {
      summary.textContent = "Fix the rules to see who matches.";
      replace(table);
      return;
    }
    replace(table, members(preview.members, columns), pages.controls(preview.members.pageInfo));
    refreshCount(value, variables.search);
    if (existing) refreshImpact(value);
  }

  // The count reads every match, the page only the first ones: the page is shown as soon
  // as it comes, the count when it follows (each guarded against older answers).
  async function refreshCount(value, term) {
    summary.textContent = "Counting…";
    const found = await counts(() => gql(COUNT, { p: value, search: term })).catch((e) => ({ failed: e }));
    if (found === STALE) return;
    if (found.failed) {
      summary.textContent = found.failed.message;
      return;
    }
    const { totalCount, percentage } = found.segmentPreview;
    if (totalCount == null) return;
    summary.replaceChildren(h("strong", { id: "preview-count" }, totalCount),
      ` customers match${term ? " the search" : ""} (${percent(percentage)} of the base)`);
  }

  async function refreshImpact(value) {
    const found = await impacts(() => gql(IMPACT, { id: existing.id, p: value })).catch((e) => ({ failed: e }));
    if (found === STALE) return;
    if (found.failed) {
      replace(impact, h("p", { className: "error" }, found.failed.message));
      return;
    }
    const result = found.segmentImpact;
    if (result.userErrors.length) {
      replace(impact, h("p", { className: "muted" }, "Impact: fix the rules first."));
      return;
    }
    const side = (label, id, data) => h("div", {}, h("strong", { id }, data.count), ` ${label}`,
      h("ul", { className: "hint" }, data.customers.edges.map(({ node }) => h("li", {}, node.id, node.email ? ` (${node.email})` : ""))));
    replace(impact, h("h2", {}, "If you save this edit"),
      side("current members would leave", "impact-leaving", result.leaving),
      side("customers would enter", "impact-entering", result.entering));
  }

  async function submit() {
    saveError.textContent = "";
    nameError.textContent = "";
    const { value, problem } = predicate();
    if (problem || value == null) {
      saveError.textContent = problem || "Add at least one condition.";
      return;
    }
    const input = { name: name.value, description: description.value || null, predicate: value };
    if (!existing && freeze.checked) input.static = true;
    const data = existing ? await gql(UPDATE, { id: existing.id, input }) : await gql(CREATE, { input });
    const payload = existing ? data.segmentUpdate : data.segmentCreate;
    if (payload.userErrors.length) {
      const byName = payload.userErrors.filter((e) => (e.field || [])[1] === "name");
      nameError.textContent = byName.map((e) => e.message).join(" ");
      showErrors(payload.userErrors.filter((e) => (e.field || [])[1] === "predicate"));
      saveError.textContent = payload.userErrors.filter((e) => !["name", "predicate"].includes((e.field || [])[1])).map((e) => e.message).join(" ");
      return;
    }
    location.hash = `#/segments/${encodeURIComponent(payload.segment.id)}`;
  }

  replace(main,
    h("h1", {}, existing ? `Edit “${existing.name}”` : "New segment"),
    h("div", { className: "builder" },
      h("section", {},
        h("label", { className: "field" }, "Name", name, nameError),
        h("label", { className: "field" }, "Description", description),
        h("h2", {}, "Rules ", h("span", { className: "hint" }, "(conditions in a group must all hold; any group is enough)")),
        rules, advanced, toggle, ruleErrors,
        canWrite() && h("div", {},
          !existing && h("p", {}, h("label", {}, freeze, " Freeze: save a STATIC segment of the customers who match now")),
          h("p", {}, save), saveError)),
      h("section", {},
        h("h2", {}, "Live preview"), summary, search, table, impact)));
  editor(rules, segmentFields, state.groups, () => schedule(), others);
  drawMode();
  if (!state.groups.length && !state.advanced) {
    rules.querySelector("#add-group").click(); // start with one empty condition
  } else {
    refresh();
  }
}

function members(connection, columns) {
  return h("table", { id: "preview-members" },
    h("thead", {}, h("tr", {}, h("th", {}, "id"), h("th", {}, "email"), columns.map((c) => h("th", {}, c)))),
    h("tbody", {}, connection.edges.map(({ node }) => h("tr", {},
      h("td", {}, h("a", { href: `#/customers/${encodeURIComponent(node.id)}` }, node.id)),
      h("td", {}, node.email || ""),
      columns.map((_, i) => h("td", {}, show(node[`c${i}`])))))));
}
