// The rule editor: an OR of AND groups of conditions, built from segmentFields.
// rulesOf(predicate) reads a predicate into groups (null when it has another shape);
// predicateOf(groups) writes them back in the seeds' form {or: [{and: [...]}, ...]}.
import { h, replace } from "./dom.js";

export const MAX_VALUES = 200;
const REFERENCE = "segment"; // a group member {segment: id}: membership of another segment
const PICK_REFERENCE = "@segment"; // its entry in the field picker
const NO_OPERAND = new Set(["EXISTS", "NOT_EXISTS"]);
const LIST = new Set(["IN", "NOT_IN"]);

export function rulesOf(predicate) {
  if (!predicate) return [];
  const groups = predicate.or ? predicate.or : [predicate];
  const read = [];
  for (const group of groups) {
    const members = group.and ? group.and : [group];
    const fits = (m) => Object.keys(m).length === 1 && (m.condition || typeof m.segment === "string");
    if (!members.every(fits)) return null;
    read.push(members.map((m) => (m.condition ? { ...m.condition } : { segment: m.segment })));
  }
  return read;
}

export function predicateOf(groups) {
  const kept = groups.filter((g) => g.length);
  if (!kept.length) return null;
  const node = (c) => (REFERENCE in c ? { segment: c.segment } : { condition: condition(c) });
  return { or: kept.map((g) => ({ and: g.map(node) })) };
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

// editor(container, fields, groups, onChange, segments): draws the groups and keeps
// `groups` current; `segments` ({id, name}) are those a condition may refer to.
export function editor(container, fields, groups, onChange, segments = []) {
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
    const referring = REFERENCE in c;
    const field = h("select", { className: "field-picker", onchange: () => {
      for (const key of Object.keys(c)) delete c[key];
      if (field.value === PICK_REFERENCE) {
        c.segment = segments.length ? segments[0].id : "";
      } else {
        Object.assign(c, { field: field.value, operator: byPath.get(field.value).operators[0], value: "" });
      }
      changed();
    } },
      fields.map((f) => h("option", { value: f.path, selected: !referring && f.path === c.field, title: f.description }, f.path)),
      h("option", { value: PICK_REFERENCE, selected: referring }, "member of segment…"));
    if (referring) {
      const known = segments.some((s) => s.id === c.segment) ? segments : [...segments, { id: c.segment, name: c.segment }];
      const target = h("select", { className: "segment-ref", onchange: () => { c.segment = target.value; onChange(); } },
        known.map((s) => h("option", { value: s.id, selected: s.id === c.segment }, s.name)));
      return h("div", { className: "condition", dataset: { address: `${i}.${j}` } },
        field, target, removal(i, j), h("span", { className: "error condition-error", role: "alert" }));
    }
    const operator = h("select", { className: "operator", onchange: () => { c.operator = operator.value; changed(); } },
      (descriptor ? descriptor.operators : [c.operator]).map((op) => h("option", { value: op, selected: op === c.operator }, op)));
    return h("div", { className: "condition", dataset: { address: `${i}.${j}` } },
      field, operator, operand(c, descriptor), removal(i, j), h("span", { className: "error condition-error", role: "alert" }));
  }

  function removal(i, j) {
    return h("button", { type: "button", className: "remove", title: "Remove this condition", onclick: () => {
      groups[i].splice(j, 1);
      if (!groups[i].length) groups.splice(i, 1);
      changed();
    } }, "×");
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
