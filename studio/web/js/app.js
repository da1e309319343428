// The studio's router: #/path?query -> a page module's render(main, params).
import { storedKey, storedRole, storeKey } from "./session.js";
import { h, replace } from "./dom.js";
import * as signin from "./pages/signin.js";
import * as segments from "./pages/segments.js";
import * as builder from "./pages/builder.js";
import * as segment from "./pages/segment.js";
import * as customers from "./pages/customers.js";
import * as pick from "./pages/pick.js";

const ROUTES = [
  [/^\/signin$/, signin.render],
  [/^\/segments$/, segments.render],
  [/^\/segments\/new$/, (main, params) => builder.render(main, params, null)],
  [/^\/segments\/new-static$/, pick.render],
  [/^\/segments\/([^/]+)\/edit$/, (main, params, id) => builder.render(main, params, id)],
  [/^\/segments\/([^/]+)$/, (main, params, id) => segment.render(main, params, id)],
  [/^\/customers$/, customers.render],
  [/^\/customers\/([^/]+)$/, (main, params, id) => customers.renderOne(main, params, id)],
];

let leave = null; // what the current page stops when another opens (a live feed)
let opened = 0; // counts page openings: a page that finishes loading after another opened stops at once

function route() {
  const [path, query = ""] = (location.hash.slice(1) || "/segments").split("?");
  const signedIn = Boolean(storedKey());
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("sign-out").hidden = !signedIn;
  document.getElementById("who").textContent = signedIn ? `${storedRole()} key` : "";
  if (!signedIn && path !== "/signin") {
    location.hash = "#/signin";
    return;
  }
  if (leave) leave();
  leave = null;
  const main = document.getElementById("page");
  const params = new URLSearchParams(query);
  for (const [pattern, render] of ROUTES) {
    const found = path.match(pattern);
    if (found) {
      const ids = found.slice(1).map(decodeURIComponent);
      const mine = ++opened;
      const result = render(main, params, ...ids);
      Promise.resolve(result).then((stop) => {
        if (typeof stop !== "function") return;
        if (mine === opened) leave = stop;
        else stop();
      });
      return;
    }
  }
  replace(main, h("p", {}, "No such page. ", h("a", { href: "#/segments" }, "Segments")));
}

document.getElementById("sign-out").addEventListener("click", () => {
  storeKey("");
  location.hash = "#/signin";
});
window.addEventListener("hashchange", route);
route();
