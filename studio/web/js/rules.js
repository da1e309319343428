// The rule editor: an OR of AND groups of conditions, built from segmentFields.
// rulesOf(predicate) reads a predicate into groups (null when it has another shape);
// predicateOf(groups) writes them back in the seeds' form {or: [{and: [...]}, ...]}.
import { h, replace } from "./dom.js";

export const MAX_VALUES = 200;
const NO_OPERAND = new Set(["EXISTS", "NOT_EXISTS"]);
const LIST = new Set(["IN", "NOT_IN"]);

export function rulesOf(predicate) {
  if (!predicate) return [];
  const groups = predicate.or ? predicate.or : [predicate];
  const read = [];
  for (const group of groups) {
    const members = group.and ? group.and : [group];
    if (!members.every((m) => m.condition && Object.keys(m).length === 1)) return null;
    read.push(members.map((m) => ({ ...m.condition })));
  }
  return read;
}

export function predicateOf(groups) {
  const kept = groups.filter((g) => g.length);
  if (!kept.length) return null;
  return { or: kept.map((g) => ({ and: g.map((c) => ({ condition: condition(c) })) })) };
}

function condition(c) {
  const written = { field: c.field, operator: c.operator };
  if (LIST.has(c.operator) || c.operator === "BETWEEN") written.values = c.values || [];
  else if (!NO_OPERAND.has(c.operator)) written.value = c.value ?? "";
  return written;
}

// Bulk paste for IN: values split on commas, semicolons and new lines.
export function splitValues(text) {
  return text.split(/[,;\n]/).map((v) => v.trim()).filter((v) => v !== "");
}

export function typed(descriptor, text) {
  if (descriptor && descriptor.type === "NUMBER" && text !== "" && !Number.isNaN(Number(text))) return Number(text);
  if (descriptor && descriptor.type === "BOOLEAN" && (text === "true" || text === "false")) return text === "true";
  return text;
}

// The field paths a predicate reads at the customer level (the preview's columns):
// a condition's field, a related scope's name. The same walk as the service's `columns`.
export function columnsOf(node, found = []) {
  if (!node || typeof node !== "object") return found;
  if (node.condition && typeof node.condition.field === "string") found.push(node.condition.field);
  if (node.related && typeof node.related.scope === "string") found.push(node.related.scope.toLowerCase());
  for (const child of [...(node.and || []), ...(node.or || []), node.not].filter(Boolean)) columnsOf(child, found);
  return [...new Set(found)];
}

// editor(container, fields, groups, onChange): draws the groups and keeps `groups` current.
export function editor(container, fields, groups, onChange) {
  const byPath = new Map(fields.map((f) => [f.path, f]));
  const fresh = () => {
    const first = fields[0];
    return { field: first.path, operator: first.operators[0], value: "" };
  };
  const changed = () => {
    draw();
    onChange();
  };

  function draw() {
    const blocks = [];
    groups.forEach((group, i) => {
      if (i > 0) blocks.push(h("div", { className: "group-or" }, "OR"));
      blocks.push(h("div", { className: "group", dataset: { group: i } },
        group.map((c, j) => row(c, i, j)),
        h("button", { type: "button", className: "add-condition", onclick: () => { group.push(fresh()); changed(); } }, "+ AND condition")));
    });
    blocks.push(h("button", { type: "button", id: "add-group", onclick: () => { groups.push([fresh()]); changed(); } }, "+ OR group"));
    replace(container, blocks);
  }

  function row(c, i, j) {
    const descriptor = byPath.get(c.field);
    const field = h("select", { className: "field-picker", onchange: () => {
      c.field = field.value;
      const d = byPath.get(c.field);
      if (!d.operators.includes(c.operator)) c.operator = d.operators[0];
      changed();
    } }, fields.map((f) => h("option", { value: f.path, selected: f.path === c.field, title: f.description }, f.path)));
    const operator = h("select", { className: "operator", onchange: () => { c.operator = operator.value; changed(); } },
      (descriptor ? descriptor.operators : [c.operator]).map((op) => h("option", { value: op, selected: op === c.operator }, op)));
    const remove = h("button", { type: "button", className: "remove", title: "Remove this condition", onclick: () => {
      groups[i].splice(j, 1);
      if (!groups[i].length) groups.splice(i, 1);
      changed();
    } }, "×");
    return h("div", { className: "condition", dataset: { address: `${i}.${j}` } },
      field, operator, operand(c, descriptor), remove, h("span", { className: "error condition-error", role: "alert" }));
  }

  function operand(c, descriptor) {
    const allowed = descriptor && descriptor.allowedValues;
    if (NO_OPERAND.has(c.operator)) return null;
    if (LIST.has(c.operator)) {
      if (allowed) {
        const select = h("select", { multiple: true, className: "values", size: Math.min(6, allowed.length), onchange: () => {
          c.values = [...select.selectedOptions].map((o) => o.value);
          onChange();
        } }, allowed.map((v) => h("option", { value: v, selected: (c.values || []).includes(v) }, v)));
        return select;
      }
      const count = h("span", { className: "hint" });
      const text = h("textarea", { className: "values", placeholder: `Paste up to ${MAX_VALUES} values, separated by commas, semicolons or new lines`,
        value: (c.values || []).join("\n"), oninput: () => {
          c.values = splitValues(text.value).map((v) => typed(descriptor, v));
          count.textContent = `${c.values.length} value(s)`;
          onChange();
        } });
      count.textContent = `${(c.values || []).length} value(s)`;
      return h("span", {}, text, " ", count);
    }
    if (c.operator === "BETWEEN") {
      const [low, high] = c.values || ["", ""];
      const ends = [low, high].map((v, k) => h("input", { className: `value between-${k}`, value: v ?? "", oninput: (e) => {
        c.values = [...(c.values || ["", ""])];
        c.values[k] = typed(descriptor, e.target.value);
        onChange();
      } }));
      return h("span", {}, ends[0], " and ", ends[1]);
    }
    if (allowed || (descriptor && descriptor.type === "BOOLEAN")) {
      const options = allowed || ["true", "false"];
      const select = h("select", { className: "value", onchange: () => { c.value = typed(descriptor, select.value); onChange(); } },
        h("option", { value: "" }, "choose…"),
        options.map((v) => h("option", { value: v, selected: String(c.value) === v }, v)));
      return select;
    }
    const placeholder = descriptor && descriptor.type === "DATETIME" ? "now-30d or 2026-01-31" : "value";
    return h("input", { className: "value", placeholder, value: c.value ?? "", oninput: (e) => {
      c.value = typed(descriptor, e.target.value);
      onChange();
    } });
  }

  draw();
}
