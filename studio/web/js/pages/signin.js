// Sign in: paste an API key; the service says which workspace and role it has.
import { gql } from "../api.js";
import { storeKey } from "../session.js";
import { h, replace } from "../dom.js";

const VIEWER = "{ viewer { workspace role } }";

export function render(main) {
  const key = h("input", { id: "api-key", type: "password", autocomplete: "off", placeholder: "Paste an API key" });
  const error = h("p", { className: "error", role: "alert" });
  const form = h("form", { className: "signin", onsubmit: async (event) => {
    event.preventDefault();
    const value = key.value.trim();
    if (!value) {
      error.textContent = "Paste an API key first.";
      return;
    }
    storeKey(value);
    try {
      const { viewer } = await gql(VIEWER);
      storeKey(value, viewer.role);
      location.hash = "#/segments";
    } catch (e) {
      storeKey("");
      error.textContent = e.message;
    }
  } },
    h("h1", {}, "Sign in"),
    h("p", { className: "muted" }, "The key stays in this tab only (session storage) and is sent as the Bearer header. A READ key sees everything without editing controls."),
    h("label", {}, "API key", key),
    h("p", {}, h("button", { type: "submit", className: "primary" }, "Sign in")),
    error,
  );
  replace(main, form);
  key.focus();
}
