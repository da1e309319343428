"""COUNT over a customer's related records in its two SQL forms, and the choice between them.

The grouped semi-join costs the same whether one customer or all are read:
right for a count, an export or stored memberships. A page of 50 or one
customer's check wants the capped per-customer count instead. A COUNT node
compiles to a `CountOfRecords` carrying both; it renders as the grouped form,
and `for_few_customers` swaps in the other where a query reads few customers.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Boolean, ColumnElement, and_, exists, func, literal_column, not_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import Grouping
from sqlalchemy.sql.visitors import InternalTraversal, replacement_traverse

from domain.predicate import CountComparison, Operator
from persistence.field_map import customer_table

Bool = ColumnElement[bool]

c = customer_table
tenant = customer_table.alias("tenant_customer")


def of_customer(table: Any) -> Bool:
    """A record (or event) of the outer customer: joined on the whole key, workspace first,
    as a database distributed by workspace needs it to stay on one shard."""
    return and_(table.c.workspace_pk == c.c.workspace_pk, table.c.customer_pk == c.c.pk)


def count_compare(count: CountComparison, counted: ColumnElement[int]) -> Bool:
    op, values = count.operator, count.values
    if op is Operator.BETWEEN:
        return and_(counted >= values[0], counted <= values[1])
    comparisons: dict[Operator, Bool] = {
        Operator.EQ: counted == values[0],
        Operator.NEQ: counted != values[0],
        Operator.GT: counted > values[0],
        Operator.GTE: counted >= values[0],
        Operator.LT: counted < values[0],
        Operator.LTE: counted <= values[0],
    }
    return comparisons[op]


def zero_satisfies(count: CountComparison) -> bool:
    op, values = count.operator, count.values
    if op is Operator.BETWEEN:
        return values[0] <= 0 <= values[1]
    return {
        Operator.EQ: values[0] == 0,
        Operator.NEQ: values[0] != 0,
        Operator.GT: False,
        Operator.GTE: values[0] <= 0,
        Operator.LT: values[0] > 0,
        Operator.LTE: True,
    }[op]


def count_matches(
    count: CountComparison, table: Any, matching: Bool, workspace_pk: int | None
) -> Bool:
    """COUNT in its form for many customers, carrying its form for few (`for_few_customers`)."""
    return CountOfRecords(
        grouped=grouped_count(count, table, matching, workspace_pk),
        capped=capped_count(count, table, matching),
        any_record=any_record(table, matching, workspace_pk),
        zero_counts=zero_satisfies(count),
    )


def any_record(table: Any, matching: Bool, workspace_pk: int | None) -> Bool:
    """The customer has a matching record: an EXISTS, that PostgreSQL may turn into a semi-join.

    Narrowed to the workspace where the table says it (events), so that a rare
    event's few records can be read on the `(workspace_pk, name, ...)` index.
    """
    found = exists().where(of_customer(table), matching)
    if workspace_pk is not None and "workspace_pk" in table.c:
        found = found.where(table.c.workspace_pk == workspace_pk)
    return found


def grouped_count(
    count: CountComparison, table: Any, matching: Bool, workspace_pk: int | None
) -> Bool:
    """COUNT as a semi-join on grouped counts, so the planner can hash it over many customers.

    When zero records satisfy the comparison, customers with no matching record
    qualify too: then the complement is excluded instead. The grouping is
    narrowed to the workspace's records so it never aggregates other tenants'.
    """
    grouped = select(table.c.customer_pk).where(matching)
    if workspace_pk is not None:
        if "workspace_pk" in table.c:
            grouped = grouped.where(table.c.workspace_pk == workspace_pk)
        else:
            owners = select(tenant.c.pk).where(tenant.c.workspace_pk == workspace_pk)
            grouped = grouped.where(table.c.customer_pk.in_(owners))
    grouped = grouped.group_by(table.c.customer_pk)
    if not zero_satisfies(count):
        having = count_compare(count, func.count())
        return c.c.pk.in_(grouped.having(having))
    failing = not_(count_compare(count, func.count()))
    return not_(c.c.pk.in_(grouped.having(failing)))


def capped_count(count: CountComparison, table: Any, matching: Bool) -> Bool:
    """COUNT of one customer's matching records, on the `(customer_pk, ...)` index.

    Counting stops at `count_cap` records: "at least 2 of 20,000" reads 2. A
    customer with no record counts 0, so `< 2` or `= 0` hold for them.
    """
    capped = (
        select(literal_column("1"))
        .where(of_customer(table), matching)
        .limit(count_cap(count))
        .correlate(c)
        .subquery(f"{table.name}_capped")
    )
    return count_compare(count, select(func.count()).select_from(capped).scalar_subquery())


def count_cap(count: CountComparison) -> int:
    """The fewest records to read so that min(records, cap) compares like the full count.

    Every count above the largest operand compares alike, and for GTE and LT
    so does the operand itself (`>= 2`: 2 or 2,000 are both true).
    """
    largest = max(count.values)
    return largest if count.operator in (Operator.GTE, Operator.LT) else largest + 1


class CountOfRecords(ColumnElement[bool]):
    """A COUNT node in its two SQL forms; it renders as `grouped`, the form for many customers.

    The grouped semi-join costs the same whether one customer or all are read:
    right for a count or an export, wasted on a page of 50, where the capped
    count reads a few index entries for each customer read. Which one a query
    wants is known only where the query is built, so both travel in one
    expression and `for_few_customers` picks the second.
    """

    __visit_name__ = "count_of_records"
    inherit_cache = True
    _traverse_internals = [
        ("grouped", InternalTraversal.dp_clauseelement),
        ("capped", InternalTraversal.dp_clauseelement),
        ("any_record", InternalTraversal.dp_clauseelement),
        ("zero_counts", InternalTraversal.dp_boolean),
    ]
    type = Boolean()

    def __init__(self, grouped: Bool, capped: Bool, any_record: Bool, zero_counts: bool) -> None:
        self.grouped = grouped
        self.capped = capped
        self.any_record = any_record  # the customer has a matching record
        self.zero_counts = zero_counts  # customers without a matching record are in

    def per_customer(self) -> Bool:
        """The capped count; when it needs a record, behind an EXISTS of one.

        In a WHERE the EXISTS becomes a semi-join and the planner picks: for a
        common event, customers in page order each probed on the index; for a
        rare one, its few customers found first, instead of probing every
        customer of the workspace (1.7 s at 1M) for nothing. In a select list
        (one customer's memberships) both are one probe each.
        """
        form = self.capped if self.zero_counts else and_(self.any_record, self.capped)
        return Grouping(form)  # it replaces an element that NOT may have wrapped unparenthesised

    def _negate(self) -> ColumnElement[Any]:
        """NOT of both forms: SQLAlchemy would otherwise fold NOT into the grouped one alone."""
        return CountOfRecords(
            not_(self.grouped), not_(self.capped), self.any_record, not self.zero_counts
        )

    @property
    def _from_objects(self) -> list[Any]:
        return self.grouped._from_objects


@compiles(CountOfRecords)
def _compile_count_of_records(element: CountOfRecords, compiler: Any, **kw: Any) -> str:
    return cast(str, compiler.process(element.grouped, **kw))


def for_few_customers(condition: Bool) -> Bool:
    """`condition` with every COUNT in its per-customer form: for a page or one customer.

    A page stops after 50 matching customers; the grouped form aggregates
    every matching record of the workspace before the first one (0.8 s for
    "checkout_started twice in 7 days" at 1M customers and 20M events). Over
    all customers the grouped form wins instead (1M probes take seconds):
    counts, exports and stored memberships keep the condition as compiled.
    """

    def per_customer(element: Any, **_: Any) -> Any:
        return element.per_customer() if isinstance(element, CountOfRecords) else None

    return replacement_traverse(condition, {}, per_customer)
