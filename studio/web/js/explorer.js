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

// GraphiQL's fetcher sends an operation over the WebSocket when the `documentAST` and the
// operation name it is given say it is a subscription, and GraphiQL parses the editor's text
// only a moment after each edit: a subscription run right after typing went over HTTP with
// the previous text's operation name, and failed. So the fetcher gets the parse of the very
// text it sends (graphql-js, as bundled with GraphiQL) and, when that text holds a single
// operation, its name.
function current(params, options) {
  let document;
  try {
    document = GraphiQL.GraphQL.parse(params.query);
  } catch {
    return [params, options]; // GraphiQL's own parse, or the server, says what is wrong
  }
  const { getOperationAST } = GraphiQL.GraphQL;
  const operation = getOperationAST(document, params.operationName) || getOperationAST(document);
  const operationName = operation ? operation.name?.value : params.operationName;
  return [{ ...params, operationName }, { ...options, documentAST: document }];
}

function render(key) {
  const base = GraphiQL.createFetcher({ url: endpoint.href, subscriptionUrl: socket.href });
  const fetcher = (params, options) => base(...current(params, options));
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
