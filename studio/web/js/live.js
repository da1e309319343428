// A graphql-transport-ws subscription that reconnects by itself. `variables()` is asked
// again on every (re)connection, so a feed resumes after the last event it saw.
import { storedKey } from "./session.js";

const RETRY_MS = 1000;

export function subscribe({ query, variables, onNext, onStatus = () => {} }) {
  let socket = null;
  let stopped = false;
  let timer = null;

  function connect() {
    const url = new URL("/graphql", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(url, "graphql-transport-ws");
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: "connection_init", payload: { Authorization: `Bearer ${storedKey()}` } }));
    };
    socket.onmessage = (message) => {
      const frame = JSON.parse(message.data);
      if (frame.type === "connection_ack") {
        onStatus("live");
        socket.send(JSON.stringify({ id: "feed", type: "subscribe", payload: { query, variables: variables() } }));
      } else if (frame.type === "next" && frame.payload.data) {
        onNext(frame.payload.data);
      } else if (frame.type === "next" || frame.type === "error") {
        const errors = frame.type === "error" ? frame.payload : frame.payload.errors;
        onStatus(`error: ${(errors || []).map((e) => e.message).join("; ")}`);
        socket.close();
      } else if (frame.type === "ping") {
        socket.send(JSON.stringify({ type: "pong" }));
      }
    };
    socket.onclose = () => {
      if (stopped) return;
      onStatus("reconnecting…");
      timer = setTimeout(connect, RETRY_MS);
    };
  }

  connect();
  return {
    close() {
      stopped = true;
      clearTimeout(timer);
      if (socket) socket.close();
    },
    // For tests and the "reconnect" button: drop the connection as a network would.
    drop() {
      if (socket) socket.close();
    },
  };
}
