// h(tag, attributes, ...children): the one way pages build elements.
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === false || value == null) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name in element && name !== "list") element[name] = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

export function replace(target, ...children) {
  target.replaceChildren(...children.flat(Infinity).filter((c) => c != null && c !== false));
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export const percent = (value) => (value == null ? "" : `${Number(value).toFixed(1)} %`);
export const when = (iso) => (iso ? new Date(iso).toISOString().slice(0, 16).replace("T", " ") + " UTC" : "");
export const show = (value) => (value == null ? "" : typeof value === "object" ? JSON.stringify(value) : String(value));

// A cursor pager: Previous / Next over a connection's pageInfo, remembering the way back.
export function pager(onMove) {
  const behind = [];
  let current = null;
  return {
    get after() {
      return current;
    },
    reset() {
      behind.length = 0;
      current = null;
    },
    controls(pageInfo) {
      return h("span", { className: "pager" },
        h("button", { type: "button", disabled: !behind.length, onclick: () => { current = behind.pop(); onMove(); } }, "Previous"),
        " ",
        h("button", { type: "button", disabled: !pageInfo || !pageInfo.hasNextPage, onclick: () => { behind.push(current); current = pageInfo.endCursor; onMove(); } }, "Next"),
      );
    },
  };
}
