// The API explorer: the vendored GraphiQL, with the Authorization header prefilled
// from the studio's key (sessionStorage) or from the key typed in the bar above it.
import { storedKey, storeKey } from "./session.js";

const endpoint = new URL("/graphql", location.href);
const socket = new URL("/graphql", location.href);
socket.protocol = location.protocol === "https:" ? "wss:" : "ws:";

function headersFor(key) {
  return key ? JSON.stringify({ Authorization: `Bearer ${key}` }, null, 2) : "";
}

let root = null;

function render(key) {
  const fetcher = GraphiQL.createFetcher({ url: endpoint.href, subscriptionUrl: socket.href });
  if (root) root.unmount(); // GraphiQL reads its headers once: a new key is a new explorer
  root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher,
      defaultHeaders: headersFor(key),
      headers: headersFor(key),
      shouldPersistHeaders: false,
      defaultQuery: "{ segments(first: 10) { totalCount edges { node { id name kind } } } }\n",
    }),
  );
}

document.getElementById("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = document.getElementById("key").value.trim();
  storeKey(key);
  render(key);
});

render(storedKey());
