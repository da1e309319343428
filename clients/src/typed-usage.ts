// What a screen does with the codegen types: tsc (`npm test`) fails when a schema change
// alters a type these functions rely on (a field renamed, made nullable, an enum changed).
import type {
  ScreensCustomerQueryQuery,
  ScreensCustomerQueryQueryVariables,
  ScreensCustomersBackwardQueryQuery,
  ScreensSegmentQueryQuery,
  ScreensSegmentQueryQueryVariables,
  ScreensSegmentsListQueryQuery,
  SegmentKind,
} from "./codegen/operations";

const KIND_LABELS: Record<SegmentKind, string> = {
  ACTIVE: "Live",
  PASSIVE: "On demand",
  STATIC: "Fixed list",
};

export function segmentRows(data: ScreensSegmentsListQueryQuery): string[] {
  return data.segments.edges.map(({ node }) => `${node.name} (${KIND_LABELS[node.kind]})`);
}

export function memberEmails(data: ScreensSegmentQueryQuery): string[] {
  const members = data.segment?.members.edges ?? [];
  return members.map(({ node }) => node.email ?? node.id);
}

export function customerTitle(data: ScreensCustomerQueryQuery): string | null {
  const customer = data.customer;
  return customer === null ? null : (customer.name ?? customer.email ?? customer.id);
}

export function backwardIds(data: ScreensCustomersBackwardQueryQuery): string[] {
  return data.customers.edges.map(({ node }) => node.nodeId);
}

export const segmentVariables: ScreensSegmentQueryQueryVariables = { id: "seg-1", count: 20 };
export const customerVariables: ScreensCustomerQueryQueryVariables = { id: "c-1" };
