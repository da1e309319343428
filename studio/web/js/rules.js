// Rules as the builder holds them: an OR of AND groups of rows. rulesOf(predicate) reads a
// predicate into groups (null when it has another shape, which the JSON mode edits);
// predicateOf(groups) writes them back in the seeds' form {or: [{and: [...]}, ...]}.
//
// A row is one of
//   {field, operator, value | values, caseInsensitive?}          a customer condition
//   {segment: id}                                                 membership of a segment
//   {related: {scope, quantifier, last?, where: [conditions], count?: {operator, value | values}}}
// and any row may carry `not: true` (written as {not: node}). A group (the array of its rows)
// may carry `not: true` too: none of it may hold all at once, written {not: {and: [...]}}.
// A related row's `where` is a list of conditions over the scope's fields, AND-ed (one
// condition, or none: every record); on EVENTS a condition's field may be `properties.KEY`,
// whose type the builder keeps as the condition's `valueType` (never written: the operand's
// JSON type is what the service reads).

export const MAX_VALUES = 200;
export const QUANTIFIERS = ["ANY", "ALL", "COUNT"];
export const COUNT_OPERATORS = ["GTE", "GT", "EQ", "NEQ", "LT", "LTE", "BETWEEN"];
const NO_OPERAND = new Set(["EXISTS", "NOT_EXISTS"]);
const LIST = new Set(["IN", "NOT_IN"]);

export const isReference = (row) => "segment" in row;
export const isRelated = (row) => "related" in row;
export const takesNoOperand = (operator) => NO_OPERAND.has(operator);
export const takesList = (operator) => LIST.has(operator);

export function rulesOf(predicate) {
  if (!predicate) return [];
  const groups = predicate.or ? predicate.or : [predicate];
  const read = [];
  for (const node of groups) {
    const negated = isGroupNegation(node);
    const group = negated ? node.not : node;
    const rows = (group.and ? group.and : [group]).map(rowOf);
    if (rows.includes(null)) return null;
    if (negated) rows.not = true;
    read.push(rows);
  }
  return read;
}

// {not: {and: [...]}} is a negated group; {not: row} stays a negated row.
const isGroupNegation = (node) =>
  node && Object.keys(node).length === 1 && node.not && Object.keys(node.not).length === 1 && Array.isArray(node.not.and);

function rowOf(node) {
  if (!node || typeof node !== "object" || Object.keys(node).length !== 1) return null;
  if (node.not) {
    const inner = rowOf(node.not);
    return inner && !inner.not ? { ...inner, not: true } : null;
  }
  if (node.condition) return { ...node.condition };
  if (typeof node.segment === "string") return { segment: node.segment };
  if (node.related) {
    const { where, ...rest } = node.related;
    const conditions = conditionsOf(where);
    return conditions && { related: { ...rest, where: conditions } };
  }
  return null;
}

function conditionsOf(where) {
  if (where == null) return [];
  const nodes = where.and ? where.and : [where];
  const plain = (n) => n && Object.keys(n).length === 1 && n.condition;
  return nodes.every(plain) ? nodes.map((n) => withValueType({ ...n.condition })) : null;
}

export const isProperty = (c) => typeof c.field === "string" && c.field.startsWith(PROPERTY);
export const PROPERTY = "properties.";
export const VALUE_TYPES = ["STRING", "NUMBER", "BOOLEAN"];

// A property condition's type, read from its operand as the service does.
function withValueType(c) {
  if (!isProperty(c)) return c;
  const sample = c.value !== undefined ? c.value : (c.values || [])[0];
  c.valueType = typeof sample === "number" ? "NUMBER" : typeof sample === "boolean" ? "BOOLEAN" : "STRING";
  return c;
}

export function predicateOf(groups) {
  const kept = groups.filter((g) => g.length);
  if (!kept.length) return null;
  return { or: kept.map((g) => (g.not ? { not: { and: g.map(nodeOf) } } : { and: g.map(nodeOf) })) };
}

function nodeOf(row) {
  const { not, ...rest } = row;
  let node;
  if (isReference(rest)) node = { segment: rest.segment };
  else if (isRelated(rest)) node = { related: relatedOf(rest.related) };
  else node = { condition: conditionOf(rest) };
  return not ? { not: node } : node;
}

function relatedOf(r) {
  const written = { scope: r.scope, quantifier: r.quantifier };
  if (r.last != null && r.last !== "") written.last = r.last;
  const where = (r.where || []).map((c) => ({ condition: conditionOf(c) }));
  if (where.length === 1) written.where = where[0];
  else if (where.length > 1) written.where = { and: where };
  if (r.quantifier === "COUNT") written.count = operandOf(r.count || { operator: "GTE", value: 1 }, {});
  return written;
}

function conditionOf(c) {
  const written = operandOf(c, { field: c.field });
  if (c.caseInsensitive) written.caseInsensitive = true;
  return written;
}

function operandOf(c, written) {
  written.operator = c.operator;
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
