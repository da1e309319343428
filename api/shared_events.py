"""One execution of a subscription's selection per live event, shared by its subscribers.

graphql-core executes a subscription's selection once per event per subscriber. At
10,000 subscribers of the same few documents that was nearly all of the server's work
(docs/operations.md, live_fanout): the same selection over the same event, with the
same answer, thousands of times.

Here the root value of a live event carries a memo (`shared_results`) that lives as
long as the event: `results_for(event)` hands out one memo per logged event, shared by
every subscriber that event reaches. `SharingExecutor` keys a result by what can change
it: the operation and its fragments as written, the variables its selection reads (not
those only the root field's arguments read: they choose the stream, not the answer),
and the caller's workspace and role. The first subscriber of a key executes; the others
take its result (or await the same execution while it runs). An event's `customer` is
therefore the customer as of that first execution.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Hashable
from typing import Any
from weakref import WeakKeyDictionary

from graphql import OperationType, VariableNode, Visitor, print_ast, visit
from graphql.language import FieldNode, Node, OperationDefinitionNode

from api.executor import LeanExecutor
from persistence.event_log import LoggedEvent

SharedResults = dict[Hashable, Any]

_memos: WeakKeyDictionary[LoggedEvent, SharedResults] = WeakKeyDictionary()


def results_for(event: LoggedEvent) -> SharedResults:
    """The memo of `event`'s executions, the same for every subscriber it reaches."""
    memo = _memos.get(event)
    if memo is None:
        memo = _memos[event] = {}
    return memo


class _Variables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_variable(self, node: VariableNode, *_args: Any) -> None:
        self.names.add(node.name.value)


def _variables_in(nodes: list[Node]) -> set[str]:
    found = _Variables()
    for node in nodes:
        visit(node, found)
    return found.names


def _read_by_selection(operation: OperationDefinitionNode, fragments: list[Node]) -> set[str]:
    """Variables that the selection can read: all but those only in root field arguments."""
    nodes: list[Node] = list(fragments)
    for selection in operation.selection_set.selections:
        if isinstance(selection, FieldNode):
            nodes += list(selection.directives or ())
            if selection.selection_set is not None:
                nodes.append(selection.selection_set)
        else:
            nodes.append(selection)  # a fragment at the root: everything in it counts
    nodes += list(operation.directives or ())
    return _variables_in(nodes)


def selection_key(
    operation: OperationDefinitionNode,
    fragments: list[Node],
    variables: dict[str, Any],
    context: Any,
) -> Hashable:
    read = _read_by_selection(operation, fragments)
    used = {name: variables[name] for name in sorted(read) if name in variables}
    caller = getattr(context, "caller", None)
    return (
        print_ast(operation),
        tuple(print_ast(fragment) for fragment in fragments),
        json.dumps(used, sort_keys=True, default=repr),
        None if caller is None else (caller.workspace_pk, str(caller.role)),
    )


class SharingExecutor(LeanExecutor):
    """The lean executor; a subscription event whose root value carries `shared_results`
    is executed once per selection key (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._share_key: Hashable | None = None

    def build_per_event_executor(self, payload: Any) -> Any:
        if self._share_key is None and self.operation.operation is OperationType.SUBSCRIPTION:
            self._share_key = selection_key(
                self.operation,
                list(self.fragment_definitions.values()),
                dict(self.variable_values.coerced),
                self.context_value,
            )
        return super().build_per_event_executor(payload)

    def execute_operation(self, serially: bool | None = None) -> Any:
        memo: SharedResults | None = getattr(self.root_value, "shared_results", None)
        key = self._share_key
        if memo is None or key is None or serially is not False:
            return super().execute_operation(serially)
        found = memo.get(key)
        if found is None:
            result = super().execute_operation(serially)
            if not self.is_awaitable(result):
                memo[key] = result
                return result
            found = memo[key] = asyncio.ensure_future(result)
        if isinstance(found, asyncio.Future):
            return _shared(found)
        return found


async def _shared(execution: asyncio.Future[Any]) -> Any:
    # Shielded: a subscriber that leaves while it runs does not cancel it for the others.
    return await asyncio.shield(execution)
