// One segment: what it is, its counts and usages, members, and (ACTIVE) its live feed.
import { gql } from "../api.js";
import { canWrite } from "../session.js";
import { h, replace, percent, when, show } from "../dom.js";
import { subscribe } from "../live.js";
import { snapshots, exporter } from "./snapshots.js";

const STANDING = `stats { customerCount totalCustomers percentage computedAt }
  members(first: 20) { totalCount columns edges { node { id email name country } } }`;

const SEGMENT = `query Segment($id: ID!) { segment(id: $id) {
  id name description kind editable predicateText timeRelative createdAt activatedAt
  evaluationCost { plannerCost usesIndex slow hints }
  usages { kind reference attachedAt }
  ${STANDING}
} }`;

// The counts and members again, when the feed can no longer tell what changed.
const RELOAD = `query SegmentStanding($id: ID!) { segment(id: $id) { ${STANDING} } }`;

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
    h("p", { id: "segment-stats" }, statsLine(segment.stats)),
    h("h2", {}, "Usages"),
    segment.usages.length
      ? h("ul", {}, segment.usages.map((u) => h("li", {}, `${u.kind} ${u.reference} (since ${when(u.attachedAt)})`)))
      : h("p", { className: "muted" }, "None: the segment is not used by anything."),
    h("section", { id: "segment-standing" }, members(segment.members)),
    segment.kind === "ACTIVE" ? feed(main, segment) : null,
    snapshots(segment),
    exporter(segment));
  return main.stopFeed || null;
}

const statsLine = (stats) =>
  `${stats.customerCount} of ${stats.totalCustomers} customers (${percent(stats.percentage)}), counted ${when(stats.computedAt)}`;

function members(page) {
  return [
    h("h2", {}, `Members (${page.totalCount})`),
    h("table", { id: "segment-members" },
      h("thead", {}, h("tr", {}, ["id", "email", "name", "country"].map((c) => h("th", {}, c)))),
      h("tbody", {}, page.edges.map(({ node }) => h("tr", {},
        h("td", {}, h("a", { href: `#/customers/${encodeURIComponent(node.id)}` }, node.id)),
        ["email", "name", "country"].map((c) => h("td", {}, show(node[c])))))))];
}

async function reload(main, id) {
  const { segment } = await gql(RELOAD, { id });
  const [stats, standing] = ["#segment-stats", "#segment-standing"].map((s) => main.querySelector(s));
  if (!segment || !stats || !standing) return; // deleted, or the page was left meanwhile
  stats.textContent = statsLine(segment.stats);
  replace(standing, members(segment.members));
}

function feed(main, segment) {
  const status = h("span", { id: "feed-status", className: "hint" }, "connecting…");
  const notice = h("p", { id: "feed-notice", className: "error", hidden: true });
  const list = h("ul", { className: "feed", id: "feed" });
  let last = null;
  const live = subscribe({
    query: FEED,
    variables: () => ({ id: segment.id, after: last }),
    onStatus: (change) => {
      status.dataset.state = change.state;
      status.textContent = feedStatus(change);
    },
    // Retention removed events after the last one shown, so resuming cannot say what
    // happened meanwhile: follow from now on, and load the members as they are now (asked
    // once the new subscribe is sent, so the window in which a change reaches neither is
    // the server's time to set the subscription up).
    onRefused: (errors) => {
      if (!errors.some((e) => e.extensions?.code === "EVENTS_PRUNED")) return false;
      last = null;
      const shown = list.querySelector("li[data-event-id]")?.dataset.eventId;
      notice.textContent = `Some changes were missed: the events after ${shown ? `event ${shown}` : "the last one shown"} were removed by retention while the feed was away. The members above are reloaded; the feed continues from now.`;
      list.prepend(h("li", { className: "gap" }, "… changes missed here …"));
      notice.hidden = false;
      setTimeout(() => reload(main, segment.id).catch((error) => notice.append(` Reloading failed: ${error.message}`)));
      return true;
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
    h("p", { className: "hint" }, "Customers entering and leaving, as they happen; after a lost connection it resumes from the last event shown."), notice, list);
}

// What the feed's status line says: live, connecting, or when the next attempt is and why.
function feedStatus({ state, attempt, delayMs, reason }) {
  if (state === "live") return "live";
  if (state === "connecting") return "connecting…";
  const seconds = (delayMs / 1000).toFixed(1);
  return `disconnected (${reason}): attempt ${attempt} in ${seconds} s`;
}
