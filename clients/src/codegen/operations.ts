/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
/** How membership is decided. */
export type SegmentKind =
  | 'ACTIVE'
  | 'PASSIVE'
  | 'STATIC';

export type ScreensSegmentsListQueryQueryVariables = Exact<{
  count: number;
}>;


export type ScreensSegmentsListQueryQuery = { segments: { edges: Array<{ node: { nodeId: string, id: string, name: string, kind: SegmentKind } }> } };

export type Screens_SegmentsFragment = { segments: { edges: Array<{ node: { nodeId: string, id: string, name: string, kind: SegmentKind } }> } };

export type ScreensSegmentQueryQueryVariables = Exact<{
  id: string | number;
  count?: number | null | undefined;
}>;


export type ScreensSegmentQueryQuery = { segment: { name: string, members: { edges: Array<{ node: { nodeId: string, id: string, email: string | null } }> } } | null };

export type Screens_SegmentMembersFragment = { name: string, members: { edges: Array<{ node: { nodeId: string, id: string, email: string | null } }> } };

export type Screens_CustomerFragment = { id: string, email: string | null, name: string | null };

export type ScreensCustomerQueryQueryVariables = Exact<{
  id: string | number;
}>;


export type ScreensCustomerQueryQuery = { customer: { nodeId: string, id: string, email: string | null, name: string | null } | null };

export type ScreensCustomersBackwardQueryQueryVariables = Exact<{
  last: number;
}>;


export type ScreensCustomersBackwardQueryQuery = { customers: { edges: Array<{ node: { nodeId: string, id: string } }> } };

export type Screens_CustomersBackwardFragment = { customers: { edges: Array<{ node: { nodeId: string, id: string } }> } };
