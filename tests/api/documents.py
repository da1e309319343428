"""GraphQL documents shared by the API tests: the customer reads and writes most tests need."""

from __future__ import annotations

CUSTOMER_FIELDS = """
  id externalId email name country currency language city source invoicingEntity
  paymentMethodType taxId parentId hasParent hasChild properties
  ordersCount totalSpent firstOrderAt lastOrderAt createdAt updatedAt
"""


def related_fields(orders: int) -> str:
    return f"""
  subscriptions {{ id status planId amount currency startedAt trialEndsAt
                  currentPeriodEndsAt canceledAt }}
  invoices {{ id status total currency issuedAt dueAt paidAt }}
  orders(first: {orders}) {{ totalCount edges {{ node {{ id status amount currency placedAt }} }} }}
  wallets {{ id currency balance }}
  verifications {{ id kind status verifiedAt }}
"""


RELATED_FIELDS = related_fields(1000)
# For lists of up to 1000 customers: 1000 orders each would be over the query cost limit.
LISTED_RELATED_FIELDS = related_fields(20)

UPSERT = f"""
mutation Upsert($customers: [CustomerInput!]!) {{
  customersUpsert(customers: $customers) {{
    customers {{ {CUSTOMER_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}
"""

UPSERT_WITH_RELATED = f"""
mutation Upsert($customers: [CustomerInput!]!) {{
  customersUpsert(customers: $customers) {{
    customers {{ {CUSTOMER_FIELDS} {RELATED_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}
"""

CUSTOMER = f"""
query Customer($id: ID!) {{
  customer(id: $id) {{ {CUSTOMER_FIELDS} {RELATED_FIELDS} }}
}}
"""

CUSTOMERS = """
query Customers($first: Int, $after: String, $search: String) {
  customers(first: $first, after: $after, search: $search) {
    totalCount
    edges { cursor node { id email name externalId } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

COUNT = "query { customers { totalCount } }"

DEFINE_PROPERTY = """
mutation Define($input: CustomPropertyInput!) {
  customPropertyDefine(input: $input) {
    property { key type allowedValues indexed description }
    userErrors { field message code }
  }
}
"""

DELETE = """
mutation Delete($ids: [ID!]!) {
  customersDelete(ids: $ids) { deletedCustomerIds userErrors { field message code } }
}
"""
