// The documents a frontend's screens send, as Relay fragments. relay-compiler checks
// them against ../schema.graphql (`npm test`); a schema change that breaks one fails CI.
import { graphql } from "relay-runtime";

// The segments list.
export const SegmentsListQuery = graphql`
  query screensSegmentsListQuery($count: Int!) {
    ...screens_segments @arguments(count: $count)
  }
`;

export const segmentsFragment = graphql`
  fragment screens_segments on Query
  @refetchable(queryName: "screensSegmentsPaginationQuery")
  @argumentDefinitions(count: { type: "Int!" }, cursor: { type: "String" }) {
    segments(first: $count, after: $cursor) @connection(key: "screens__segments") {
      edges { node { nodeId id name kind } }
    }
  }
`;

// A segment's members, paginated inside the segment.
export const SegmentQuery = graphql`
  query screensSegmentQuery($id: ID!, $count: Int) {
    segment(id: $id) { ...screens_segmentMembers @arguments(count: $count) }
  }
`;

export const segmentMembersFragment = graphql`
  fragment screens_segmentMembers on Segment
  @refetchable(queryName: "screensSegmentMembersPaginationQuery")
  @argumentDefinitions(
    count: { type: "Int" }
    cursor: { type: "String" }
    last: { type: "Int" }
    before: { type: "String" }
  ) {
    name
    members(first: $count, after: $cursor, last: $last, before: $before)
      @connection(key: "screens__members") {
      edges { node { nodeId id email } }
    }
  }
`;

// A customer, refetched through node(id:).
export const customerFragment = graphql`
  fragment screens_customer on Customer @refetchable(queryName: "screensCustomerRefetchQuery") {
    id
    email
    name
  }
`;

export const CustomerQuery = graphql`
  query screensCustomerQuery($id: ID!) {
    customer(id: $id) { nodeId ...screens_customer }
  }
`;

// A backward page: the last customers, then the ones before them.
export const CustomersBackwardQuery = graphql`
  query screensCustomersBackwardQuery($last: Int!) {
    ...screens_customersBackward @arguments(last: $last)
  }
`;

export const customersBackwardFragment = graphql`
  fragment screens_customersBackward on Query
  @refetchable(queryName: "screensCustomersBackwardPaginationQuery")
  @argumentDefinitions(last: { type: "Int!" }, before: { type: "String" }) {
    customers(last: $last, before: $before) @connection(key: "screens__customers") {
      edges { node { nodeId id } }
    }
  }
`;
