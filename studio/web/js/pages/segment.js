// One segment: what it is, its counts and usages, members, and (ACTIVE) its live feed.
import { gql } from "../api.js";
import { canWrite } from "../session.js";
import { h, replace, percent, when, show } from "../dom.js";
import { subscribe } from "../live.js";
import { snapshots, exporter } from "./snapshots.js";

const SEGMENT = `query Segment($id: ID!) { segment(id: $id) {
  id name description kind editable predicateText timeRelative createdAt activatedAt
  stats { customerCount totalCustomers percentage computedAt }
  evaluationCost { plannerCost usesIndex slow hints }
  usages { kind reference attachedAt }
  members(first: 20) { totalCount columns edges { node { id email name country } } }
} }`;

const FEED = `subscription Feed($id: ID, $after: ID) {
  segmentMembershipChanged(segmentId: $id, after: $after) { id kind customerId occurredAt }
}`;

const FEED_KEPT = 200;

export async function render(main, params, id) {
  replace(main, h("p", { className: "muted" }, "Loading…"));
  const { segment } = await gql(SEGMENT, { id });
  if (!segment) {
    replace(main, h("p", { className: "error" }, `There is no segment ${id}.`));
    return null;
  }
  const link = encodeURIComponent(segment.id);
  replace(main,
    h("h1", {}, segment.name, " ", h("span", { className: `tag ${segment.kind}`, id: "segment-kind" }, segment.kind)),
    segment.description && h("p", {}, segment.description),
    h("p", { className: "toolbar" },
      canWrite() && segment.editable && h("a", { href: `#/segments/${link}/edit`, id: "edit-segment" }, "Edit rules"),
      h("a", { href: `#/customers?segment=${link}` }, "Customers in this segment")),
    segment.predicateText && h("p", {}, h("code", {}, segment.predicateText)),
    h("p", { id: "segment-stats" }, `${segment.stats.customerCount} of ${segment.stats.totalCustomers} customers (${percent(segment.stats.percentage)}), counted ${when(segment.stats.computedAt)}`),
    h("h2", {}, "Usages"),
    segment.usages.length
      ? h("ul", {}, segment.usages.map((u) => h("li", {}, `${u.kind} ${u.reference} (since ${when(u.attachedAt)})`)))
      : h("p", { className: "muted" }, "None: the segment is not used by anything."),
    h("h2", {}, `Members (${segment.members.totalCount})`),
    h("table", { id: "segment-members" },
      h("thead", {}, h("tr", {}, ["id", "email", "name", "country"].map((c) => h("th", {}, c)))),
      h("tbody", {}, segment.members.edges.map(({ node }) => h("tr", {},
        h("td", {}, h("a", { href: `#/customers/${encodeURIComponent(node.id)}` }, node.id)),
        ["email", "name", "country"].map((c) => h("td", {}, show(node[c]))))))),
    segment.kind === "ACTIVE" ? feed(main, segment) : null,
    snapshots(segment),
    exporter(segment));
  return main.stopFeed || null;
}

function feed(main, segment) {
  const status = h("span", { id: "feed-status", className: "hint" }, "connecting…");
  const list = h("ul", { className: "feed", id: "feed" });
  let last = null;
  const live = subscribe({
    query: FEED,
    variables: () => ({ id: segment.id, after: last }),
    onStatus: (change) => {
      status.dataset.state = change.state;
      status.textContent = feedStatus(change);
    },
    onNext: ({ segmentMembershipChanged: event }) => {
      last = event.id;
      list.prepend(h("li", { className: event.kind, dataset: { eventId: event.id } }, `${when(event.occurredAt)} ${event.kind} ${event.customerId}`));
      while (list.children.length > FEED_KEPT) list.lastChild.remove();
    },
  });
  main.stopFeed = () => live.close();
  window.studioFeed = live; // lets a test cut the connection to see it resume
  return h("section", {}, h("h2", {}, "Live feed ", status,
    " ", h("button", { type: "button", id: "feed-reconnect", onclick: () => live.reconnect() }, "Reconnect now")),
    h("p", { className: "hint" }, "Customers entering and leaving, as they happen; after a lost connection it resumes from the last event shown."), list);
}

// What the feed's status line says: live, connecting, or when the next attempt is and why.
function feedStatus({ state, attempt, delayMs, reason }) {
  if (state === "live") return "live";
  if (state === "connecting") return "connecting…";
  const seconds = (delayMs / 1000).toFixed(1);
  return `disconnected (${reason}): attempt ${attempt} in ${seconds} s`;
}
