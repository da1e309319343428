// The rule editor: draws the groups of rows (see rules.js) and keeps them current. Each row,
// and each whole group, may be negated (NOT); a row is a customer condition, a segment
// reference, or a related scope (ANY / ALL / COUNT of its records, over the last N, matching
// conditions on its fields; on EVENTS also on any `properties.KEY`, typed by the user).
import { h, replace } from "./dom.js";
import {
  MAX_VALUES, QUANTIFIERS, COUNT_OPERATORS, PROPERTY, VALUE_TYPES,
  isReference, isRelated, isProperty, takesNoOperand, takesList, splitValues, typed,
} from "./rules.js";

const PICK_REFERENCE = "@segment"; // the field picker's entry for a segment reference
const PICK_RELATED = "@related:"; // ... and for a related scope, followed by its name
const PICK_PROPERTY = "@property"; // a where-field picker's entry for `properties.KEY`
const COUNT = { type: "NUMBER" }; // a COUNT's operand, and `last`, are whole numbers

// editor(container, catalog, groups, onChange, segments): `catalog` is segmentFields (customer
// fields have no scope); `segments` ({id, name}) are those a row may refer to.
export function editor(container, catalog, groups, onChange, segments = []) {
  const customer = catalog.filter((f) => f.scope == null);
  const byPath = new Map(customer.map((f) => [f.path, f]));
  const scopes = new Map();
  const anyProperty = new Map(); // scope -> its `properties.*` descriptor (EVENTS)
  for (const f of catalog) {
    if (f.scope == null) continue;
    if (f.path === `${PROPERTY}*`) {
      anyProperty.set(f.scope, f);
      continue;
    }
    if (!scopes.has(f.scope)) scopes.set(f.scope, new Map());
    scopes.get(f.scope).set(f.path, f);
  }
  const freshCondition = (fields) => {
    const first = fields.values().next().value;
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
      blocks.push(h("div", { className: `group${group.not ? " negated" : ""}`, dataset: { group: i } },
        groupNegation(group),
        group.map((row, j) => rowOf(row, i, j)),
        h("button", { type: "button", className: "add-condition", onclick: () => { group.push(freshCondition(byPath)); changed(); } }, "+ AND condition")));
    });
    blocks.push(h("button", { type: "button", id: "add-group", onclick: () => { groups.push([freshCondition(byPath)]); changed(); } }, "+ OR group"));
    replace(container, blocks);
  }

  function rowOf(row, i, j) {
    const parts = isReference(row) ? reference(row) : isRelated(row) ? related(row) : condition(row, byPath, "");
    return h("div", { className: `condition${row.not ? " negated" : ""}`, dataset: { address: `${i}.${j}` } },
      negation(row), picker(row), parts, removal(i, j), h("span", { className: "error condition-error", role: "alert" }),
      isRelated(row) && where(row.related));
  }

  function negation(row) {
    const box = h("input", { type: "checkbox", className: "negate", checked: !!row.not, onchange: () => {
      if (box.checked) row.not = true;
      else delete row.not;
      changed();
    } });
    return h("label", { className: "negation", title: "True when the rest of this row is not" }, box, "NOT");
  }

  function groupNegation(group) {
    const box = h("input", { type: "checkbox", className: "negate-group", checked: !!group.not, onchange: () => {
      if (box.checked) group.not = true;
      else delete group.not;
      changed();
    } });
    return h("label", { className: "group-negation", title: "True when the conditions of this group do not all hold" },
      box, "NOT this whole group");
  }

  function picker(row) {
    const chosen = isReference(row) ? PICK_REFERENCE : isRelated(row) ? PICK_RELATED + row.related.scope : row.field;
    const known = byPath.has(chosen) || chosen.startsWith("@") ? [] : [chosen]; // e.g. an undeclared property
    const select = h("select", { className: "field-picker", onchange: () => {
      const not = row.not;
      for (const key of Object.keys(row)) delete row[key];
      if (not) row.not = true;
      if (select.value === PICK_REFERENCE) row.segment = segments.length ? segments[0].id : "";
      else if (select.value.startsWith(PICK_RELATED)) {
        row.related = { scope: select.value.slice(PICK_RELATED.length), quantifier: "ANY", where: [] };
      } else Object.assign(row, { field: select.value, operator: byPath.get(select.value).operators[0], value: "" });
      changed();
    } },
      h("optgroup", { label: "Customer" },
        [...customer, ...known.map((path) => ({ path }))].map((f) => h("option", { value: f.path, selected: f.path === chosen, title: f.description || "" }, f.path))),
      h("optgroup", { label: "Related records" },
        [...scopes.keys()].map((scope) => h("option", { value: PICK_RELATED + scope, selected: PICK_RELATED + scope === chosen }, `${scope.toLowerCase()}…`))),
      h("option", { value: PICK_REFERENCE, selected: chosen === PICK_REFERENCE }, "member of segment…"));
    return select;
  }

  function reference(row) {
    const known = segments.some((s) => s.id === row.segment) ? segments : [...segments, { id: row.segment, name: row.segment }];
    const target = h("select", { className: "segment-ref", onchange: () => { row.segment = target.value; onChange(); } },
      known.map((s) => h("option", { value: s.id, selected: s.id === row.segment }, s.name)));
    return target;
  }

  // ANY / ALL / COUNT (with its comparison), and an optional window of the last N records.
  function related(row) {
    const r = row.related;
    const quantifier = h("select", { className: "quantifier", onchange: () => {
      r.quantifier = quantifier.value;
      if (r.quantifier === "COUNT") r.count = r.count || { operator: "GTE", value: 1 };
      else delete r.count;
      changed();
    } }, QUANTIFIERS.map((q) => h("option", { value: q, selected: q === r.quantifier }, q)));
    const last = h("input", { type: "number", min: 1, max: 100, className: "last", placeholder: "all", value: r.last ?? "", oninput: () => {
      if (last.value === "") delete r.last;
      else r.last = Number(last.value);
      onChange();
    } });
    const span = h("label", { className: "hint" }, "of the last ", last, " records");
    if (r.quantifier !== "COUNT") return [quantifier, span];
    const c = r.count;
    const operator = h("select", { className: "count-operator", onchange: () => {
      c.operator = operator.value;
      changed();
    } }, COUNT_OPERATORS.map((op) => h("option", { value: op, selected: op === c.operator }, op)));
    return [quantifier, span, h("span", { className: "hint" }, "matching: count"), operator, operand(c, COUNT, "count-value")];
  }

  // The conditions a related row's records must meet (AND-ed); none: every record.
  function where(r) {
    const fields = scopes.get(r.scope) || new Map();
    const property = anyProperty.get(r.scope);
    return h("div", { className: "where" },
      h("span", { className: "hint" }, r.where.length ? "where" : "any record (no condition)"),
      r.where.map((c, k) => h("div", { className: "where-condition", dataset: { where: k } },
        condition(c, fields, "where-", property),
        h("button", { type: "button", className: "remove", title: "Remove this condition", onclick: () => { r.where.splice(k, 1); changed(); } }, "×"))),
      fields.size > 0 && h("button", { type: "button", className: "add-where", onclick: () => { r.where.push(freshCondition(fields)); changed(); } }, "+ where condition"));
  }

  // A condition's field (for a related scope's records: `prefix` "where-", and `property`
  // the scope's `properties.*` if it has one), operator, operand.
  function condition(c, fields, prefix, property = null) {
    const onProperty = property && isProperty(c);
    const descriptor = onProperty ? { ...property, type: c.valueType || "STRING" } : fields.get(c.field);
    const parts = [];
    if (prefix) {
      const known = fields.has(c.field) || onProperty ? [] : [c.field];
      const field = h("select", { className: `${prefix}field`, onchange: () => {
        delete c.values;
        delete c.valueType;
        if (field.value === PICK_PROPERTY) {
          const operator = property.operators.includes("EQ") ? "EQ" : property.operators[0];
          Object.assign(c, { field: PROPERTY, operator, value: "", valueType: "STRING" });
        } else Object.assign(c, { field: field.value, operator: fields.get(field.value).operators[0], value: "" });
        changed();
      } }, [...fields.keys(), ...known].map((path) => h("option", { value: path, selected: path === c.field }, path)),
        property && h("option", { value: PICK_PROPERTY, selected: onProperty }, `${PROPERTY}…`));
      parts.push(field);
      if (onProperty) parts.push(...propertyParts(c));
    }
    const operator = h("select", { className: `${prefix}operator`, onchange: () => { c.operator = operator.value; changed(); } },
      (descriptor ? descriptor.operators : [c.operator]).map((op) => h("option", { value: op, selected: op === c.operator }, op)));
    parts.push(operator, operand(c, descriptor));
    return parts;
  }

  // The KEY of a `properties.KEY` condition, and the type its operand is written as.
  function propertyParts(c) {
    const key = h("input", { className: "where-property", placeholder: "key", value: c.field.slice(PROPERTY.length), oninput: () => {
      c.field = PROPERTY + key.value.trim();
      onChange();
    } });
    const type = h("select", { className: "where-type", title: "The operand's type: a stored value of another type counts as no value", onchange: () => {
      c.valueType = type.value;
      const retype = (v) => typed({ type: c.valueType }, String(v ?? ""));
      if (c.values) c.values = c.values.map(retype);
      else if (c.value !== undefined) c.value = retype(c.value);
      changed();
    } }, VALUE_TYPES.map((t) => h("option", { value: t, selected: t === (c.valueType || "STRING") }, t.toLowerCase())));
    return [key, type];
  }

  function removal(i, j) {
    return h("button", { type: "button", className: "remove", title: "Remove this row", onclick: () => {
      groups[i].splice(j, 1);
      if (!groups[i].length) groups.splice(i, 1);
      changed();
    } }, "×");
  }

  // The operand of `c` (a condition or a COUNT's comparison), by its operator and field type.
  function operand(c, descriptor, valueClass = "value") {
    const allowed = descriptor && descriptor.allowedValues;
    if (takesNoOperand(c.operator)) return null;
    if (takesList(c.operator)) {
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
      const ends = [low, high].map((v, k) => h("input", { className: `${valueClass} between-${k}`, value: v ?? "", oninput: (e) => {
        c.values = [...(c.values || ["", ""])];
        c.values[k] = typed(descriptor, e.target.value);
        onChange();
      } }));
      return h("span", {}, ends[0], " and ", ends[1]);
    }
    if (allowed || (descriptor && descriptor.type === "BOOLEAN")) {
      const options = allowed || ["true", "false"];
      const select = h("select", { className: valueClass, onchange: () => { c.value = typed(descriptor, select.value); onChange(); } },
        h("option", { value: "" }, "choose…"),
        options.map((v) => h("option", { value: v, selected: String(c.value) === v }, v)));
      return select;
    }
    const placeholder = descriptor && descriptor.type === "DATETIME" ? "now-30d or 2026-01-31" : "value";
    return h("input", { className: valueClass, placeholder, value: c.value ?? "", oninput: (e) => {
      c.value = typed(descriptor, e.target.value);
      onChange();
    } });
  }

  draw();
}
