// A graphql-transport-ws subscription that reconnects by itself, waiting longer after each
// failed attempt (capped exponential backoff with jitter, so a restarted service is not hit
// by every open page at once). `variables()` is asked again on every (re)connection, so a
// feed resumes after the last event it saw. `onStatus` hears each change of state:
//   {state: "connecting"} | {state: "live"} |
//   {state: "waiting", attempt, delayMs, reason}  (the next attempt is `attempt`, in delayMs)
// `onRefused(errors)` hears a subscription the server refused (the GraphQL errors, each with
// its `extensions.code`); when it returns true it has dealt with the cause (for instance
// changed what `variables()` answers) and the feed subscribes again at once on the same
// connection (once: refused again before any event, it counts as a failure); otherwise the
// refusal counts as a failure and the feed waits and reconnects.
import { storedKey } from "./session.js";

export const FIRST_RETRY_MS = 500;
export const MAX_RETRY_MS = 30_000;
// A connection that stayed live this long was a success: the next failure starts over.
const STABLE_MS = 10_000;

// The wait before attempt `attempt` (1, 2, ...): half of min(cap, first * 2^(attempt-1))
// for sure, the other half at random ("equal jitter").
export function retryDelay(attempt, random = Math.random) {
  const ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export function subscribe({ query, variables, onNext, onStatus = () => {}, onRefused = () => false }) {
  let socket = null;
  let operations = 0; // each subscribe gets its own id, so frames of a refused one are told apart
  let stopped = false;
  let timer = null;
  let failures = 0; // attempts since the last stable connection
  let liveSince = null;
  let reason = "";

  function connect() {
    timer = null;
    liveSince = null;
    reason = "";
    onStatus({ state: "connecting" });
    const url = new URL("/graphql", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(url, "graphql-transport-ws");
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: "connection_init", payload: { Authorization: `Bearer ${storedKey()}` } }));
    };
    let resubscribed = false; // since the last event: a second refusal is not dealt with
    const operation = () => `feed-${operations}`;
    const start = () => {
      operations += 1;
      socket.send(JSON.stringify({ id: operation(), type: "subscribe", payload: { query, variables: variables() } }));
    };
    socket.onmessage = (message) => {
      const frame = JSON.parse(message.data);
      if (frame.id !== undefined && frame.id !== operation()) return; // a finished subscription's
      if (frame.type === "connection_ack") {
        liveSince = Date.now();
        onStatus({ state: "live" });
        start();
      } else if (frame.type === "next" && frame.payload.data) {
        resubscribed = false;
        onNext(frame.payload.data);
      } else if (frame.type === "next" || frame.type === "error") {
        const errors = (frame.type === "error" ? frame.payload : frame.payload.errors) || [];
        if (!resubscribed && onRefused(errors)) {
          resubscribed = true;
          start();
          return;
        }
        reason = errors.map((e) => e.message).join("; ");
        liveSince = null; // a refused subscription is a failure, however long it was open
        socket.close();
      } else if (frame.type === "ping") {
        socket.send(JSON.stringify({ type: "pong" }));
      }
    };
    socket.onclose = (event) => {
      if (stopped) return;
      if (liveSince !== null && Date.now() - liveSince >= STABLE_MS) failures = 0;
      failures += 1;
      const delayMs = retryDelay(failures);
      onStatus({ state: "waiting", attempt: failures + 1, delayMs, reason: reason || event.reason || "connection lost" });
      timer = setTimeout(connect, delayMs);
    };
  }

  connect();
  return {
    close() {
      stopped = true;
      clearTimeout(timer);
      if (socket) socket.close();
    },
    // The "Reconnect now" button: skip the wait, or drop a live connection as a network would.
    reconnect() {
      if (timer !== null) {
        clearTimeout(timer);
        connect();
      } else if (socket) {
        socket.close();
      }
    },
    // For tests: drop the connection as a network would.
    drop() {
      if (socket) socket.close();
    },
  };
}
