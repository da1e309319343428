"""A leaner field execution for plain attribute fields, with graphql-core's as the fallback.

graphql-core executes every field the same way: a `Path`, a 14-field resolve info, the
resolver (for strawberry's plain attributes a wrapper around `getattr`), then
`complete_value`'s chain of type checks. A page of 50 customers is some 200 of those, and
they were most of the page's CPU. Most of them are plain attributes: no arguments, no
resolver, no permission class, no field extension, so nothing can see the resolve info.

`LeanExecutor.execute_fields` answers those directly, once per field a plan made once per
(type, field) of the schema:

- a leaf (scalar or enum, nullable or not): `getattr`, then the type's own output coercion,
  exactly what `complete_leaf_value` calls;
- `__typename` on an object type: the type's name;
- a single object (not an interface or union): `getattr`, the type's `is_type_of`
  (strawberry's own, which never reads the info), then the object's fields, with the same
  path and error handling as `execute_field`;
- a list of such objects (a page's edges): the same for each item, with the item's path
  and `complete_list_item_value`'s error handling; every item is checked first, so that a
  fallback never follows work already done.

The plans of a selection are looked up once per operation (api.field_plans holds them),
and an object's fields run straight through `execute_fields` when nothing is deferred. A
list or object field whose whole subtree has plans is compiled, once per operation, into
one function completing it without a `Path` or a call of `execute_fields` per object;
at the first value it does not take as it is, the field goes the way above instead
(heavy operations, whose lists give the loop back between items, always do).

Anything else (resolvers, arguments, interfaces, unions, introspection, a mutation's
serial root fields, any middleware) and every value a plan does not take as it is (a null
for a non-null field, a value the scalar refuses, an exception, an awaitable, an iterable
other than a list or tuple) goes through graphql-core's `execute_field` as before, which
then produces the usual value or error. So the response is the same, byte for byte;
tests/api/test_lean_executor.py runs a corpus through both.
"""

from __future__ import annotations

import asyncio
from inspect import iscoroutine
from typing import Any

from graphql import GraphQLObjectType, GraphQLOutputType, Undefined
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import AwaitableOrValue, Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api.field_plans import (
    GENERIC,
    LEAF,
    OBJECT,
    SLOW,
    Completer,
    ListPlan,
    ObjectPlan,
    Step,
    field_plan,
    kind_of,
    list_completer,
    object_completer,
    plans_of,
    selection_completer,
)
from api.loop_share import share_of

TASKS_PER_TURN = 200
"""A heavy operation's list items become tasks this many at a time (`_tasks_in_turns`)."""


def _whole(compiled: Completer, source: Any) -> Any:
    try:
        return compiled(source)
    except Exception:  # the field's own path (below) reports it
        return SLOW


class LeanExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor (as strawberry configures it), with plain attribute fields
    answered by their plans."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lean_steps: dict[int, tuple[GroupedFieldSet, list[Step]]] = {}
        self._loop_share = share_of(self.context_value)

    def _steps(self, parent_type: GraphQLObjectType, grouped: GroupedFieldSet) -> list[Step]:
        """The plan of each field of a selection, found once per operation (the same
        grouped field set comes back for every item of a list)."""
        cache = self._lean_steps
        found = cache.get(id(grouped))
        if found is not None and found[0] is grouped:
            return found[1]
        plans = plans_of(parent_type)
        steps: list[Step] = []
        for response_name, field_details_list in grouped.items():
            name = field_details_list[0].node.name.value
            if name not in plans:
                plans[name] = field_plan(parent_type, name)
            plan = plans[name]
            kind = kind_of(plan)
            compiled = None
            if isinstance(plan, ObjectPlan):  # a list's plan too
                compiled = self._compiled(plan, field_details_list)
            steps.append((response_name, field_details_list, kind, plan, compiled))
        cache[id(grouped)] = (grouped, steps)  # the set kept alive: its id stays its own
        return steps

    def _compiled(self, plan: ObjectPlan, field_details_list: FieldDetailsList) -> Completer | None:
        """The field's whole completion in one function, when every field below it has a
        plan and nothing is deferred (api.field_plans)."""
        try:
            grouped, deferred, _ = self.collect_subfields(plan.type_, field_details_list)
        except Exception:  # the field's own path reports it, if it is ever reached
            return None
        if deferred:
            return None
        fields = selection_completer(self._steps(plan.type_, grouped))
        if fields is None:
            return None
        if isinstance(plan, ListPlan):
            return list_completer(plan, fields)
        return object_completer(plan, fields)

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        manager = self.middleware_manager
        if manager is not None and manager._middleware_resolvers is not None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        # a heavy operation's lists give the loop back between items: not compiled
        whole = position_context is None and self._loop_share is None
        try:
            for response_name, field_details_list, kind, plan, compiled in self._steps(
                parent_type, grouped_field_set
            ):
                result: Any = SLOW
                if kind is LEAF:
                    result = plan(source_value)
                elif kind is not GENERIC:
                    if compiled is not None and whole:
                        result = _whole(compiled, source_value)
                    if result is SLOW:
                        complete = self._object if kind is OBJECT else self._list
                        result = complete(
                            plan,
                            source_value,
                            Path(path, response_name, parent_type.name),
                            field_details_list,
                            position_context,
                        )
                if result is SLOW:
                    result = self.execute_field(
                        parent_type,
                        source_value,
                        field_details_list,
                        Path(path, response_name, parent_type.name),
                        position_context,
                    )
                    if result is Undefined:
                        continue
                results[response_name] = result
                if is_awaitable(result):
                    awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return self._gathered(results, awaitable_fields)

    async def _gathered(self, results: dict[str, Any], awaitable: list[str]) -> dict[str, Any]:
        if len(awaitable) == 1:
            results[awaitable[0]] = await results[awaitable[0]]
            return results
        values = await gather_with_cancel(*(results[name] for name in awaitable))
        results.update(zip(awaitable, values, strict=True))
        return results

    def _subfields(
        self,
        type_: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
        value: Any,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        """`collect_and_execute_subfields`, straight to `execute_fields` when nothing is
        deferred (as graphql-core's incremental executor then does)."""
        grouped, deferred, _ = self.collect_subfields(type_, field_details_list)
        if deferred or position_context is not None:
            return self.execute_collected_subfields(
                type_, value, path, grouped, deferred, position_context
            )
        return self.execute_fields(type_, value, path, grouped, None)

    def _object(
        self,
        plan: ObjectPlan,
        source: Any,
        path: Path,
        field_details_list: FieldDetailsList,
        position_context: Any,
    ) -> Any:
        """An object field's value as `execute_field` would complete it, or SLOW."""
        try:
            value = getattr(source, plan.attribute)
            if value is None or value is Undefined:
                return None if plan.nullable else SLOW
            if isinstance(value, Exception) or self.is_awaitable(value):
                return SLOW
            type_ = plan.type_
            if type_.is_type_of is not None and type_.is_type_of(value, None) is not True:
                return SLOW  # False (an error) or awaitable: graphql-core's path
        except Exception:  # graphql-core's path reports it
            return SLOW
        try:
            completed = self._subfields(type_, field_details_list, path, value, position_context)
        except Exception as raw_error:
            self.handle_field_error(raw_error, plan.field_type, field_details_list, path)
            return None
        if not self.is_awaitable(completed):
            return completed
        return self._awaited_object(completed, plan.field_type, field_details_list, path)

    async def _awaited_object(
        self,
        completed: Any,
        field_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, field_type, field_details_list, path)
            return None

    def _list(
        self,
        plan: ListPlan,
        source: Any,
        path: Path,
        field_details_list: FieldDetailsList,
        position_context: Any,
    ) -> Any:
        """A list of objects as `execute_field` would complete it, or SLOW. Every item is
        checked before any runs, so that SLOW never follows work already done."""
        try:
            items = getattr(source, plan.attribute)
            if items is None or items is Undefined:
                return None if plan.nullable else SLOW
            if not isinstance(items, list | tuple):
                return SLOW
            check = plan.type_.is_type_of
            for item in items:
                if item is None:
                    if not plan.item_nullable:
                        return SLOW
                elif (
                    isinstance(item, Exception)
                    or self.is_awaitable(item)
                    or (check is not None and check(item, None) is not True)
                ):
                    return SLOW
        except Exception:  # graphql-core's path reports it
            return SLOW
        completed: list[Any] = []
        awaitable: list[int] = []
        share = self._loop_share
        try:
            for index, item in enumerate(items):
                if share is not None and share.due():
                    rest = self._list_rest(
                        plan,
                        items,
                        index,
                        completed,
                        awaitable,
                        path,
                        field_details_list,
                        position_context,
                    )
                    return self._awaited_object(rest, plan.field_type, field_details_list, path)
                if item is None:
                    completed.append(None)
                    continue
                completed.append(
                    self._item(
                        plan, item, path.add_key(index, None), field_details_list, position_context
                    )
                )
                if self.is_awaitable(completed[-1]):
                    awaitable.append(index)
        except Exception as raw_error:
            if awaitable:
                self.settle_in_background([completed[i] for i in awaitable])
            self.handle_field_error(raw_error, plan.field_type, field_details_list, path)
            return None
        if not awaitable:
            return completed
        return self._awaited_object(
            self._gathered_items(completed, awaitable), plan.field_type, field_details_list, path
        )

    def _item(
        self,
        plan: ListPlan,
        item: Any,
        item_path: Path,
        field_details_list: FieldDetailsList,
        position_context: Any,
    ) -> Any:
        """One item, as `complete_list_item_value` completes it (a null for an item whose
        completion failed, or the failure raised on when items may not be null)."""
        try:
            value = self._subfields(
                plan.type_, field_details_list, item_path, item, position_context
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, plan.item_type, field_details_list, item_path)
            return None
        if not self.is_awaitable(value):
            return value
        return self._awaited_object(value, plan.item_type, field_details_list, item_path)

    async def _list_rest(
        self,
        plan: ListPlan,
        items: list[Any] | tuple[Any, ...],
        start: int,
        completed: list[Any],
        awaitable: list[int],
        path: Path,
        field_details_list: FieldDetailsList,
        position_context: Any,
    ) -> list[Any]:
        """The items of a heavy operation's list from `start` on, the loop given back
        whenever its slice is over (api.loop_share); raised errors as in `_list`."""
        share = self._loop_share
        assert share is not None
        try:
            await share.turn()
            for index in range(start, len(items)):
                if index > start and share.due():
                    await share.turn()
                item = items[index]
                if item is None:
                    completed.append(None)
                    continue
                completed.append(
                    self._item(
                        plan, item, path.add_key(index, None), field_details_list, position_context
                    )
                )
                if self.is_awaitable(completed[-1]):
                    awaitable.append(index)
        except Exception:
            if awaitable:
                self.settle_in_background([completed[i] for i in awaitable])
            raise
        except BaseException:  # cancelled (the request's time is up): nothing awaits them
            for i in awaitable:
                if iscoroutine(completed[i]):
                    completed[i].close()
            raise
        if not awaitable:
            return completed
        return await self._gathered_items(completed, awaitable)

    async def _gathered_items(self, completed: list[Any], awaitable: list[int]) -> list[Any]:
        if len(awaitable) == 1:
            completed[awaitable[0]] = await completed[awaitable[0]]
            return completed
        share = self._loop_share
        if share is None or len(awaitable) <= TASKS_PER_TURN:
            values = await gather_with_cancel(*(completed[i] for i in awaitable))
        else:
            values = await gather_with_cancel(*await self._tasks_in_turns(completed, awaitable))
        for index, value in zip(awaitable, values, strict=True):
            completed[index] = value
        return completed

    async def _tasks_in_turns(self, completed: list[Any], awaitable: list[int]) -> list[Any]:
        """A heavy list's awaitables as tasks, TASKS_PER_TURN at a time with the loop given
        back in between (making a thousand at once holds it for milliseconds)."""
        share = self._loop_share
        assert share is not None
        tasks: list[Any] = []
        try:
            for start in range(0, len(awaitable), TASKS_PER_TURN):
                if start and share.due():
                    await share.turn()
                chosen = awaitable[start : start + TASKS_PER_TURN]
                tasks += [asyncio.ensure_future(completed[i]) for i in chosen]
        except BaseException:  # cancelled while waiting for its turn: nothing awaits them
            for task in tasks:
                task.cancel()
            for i in awaitable[len(tasks) :]:
                if iscoroutine(completed[i]):
                    completed[i].close()
            raise
        return tasks
