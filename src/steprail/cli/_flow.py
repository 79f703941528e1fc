"""``steprail plan``'s data-flow section: what each step requires and provides (docs/data-flow.md)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from .._flow import FlowRow, flow_table
from ._render import _titled
from ..actions import BaseAction

__all__ = ["flow_json", "flow_mermaid_edges", "flow_rows", "flow_rows_table"]


def flow_rows(action: BaseAction[Any]) -> list[FlowRow] | None:
    """Each step's declared flow in the action's workflow (built again, nothing runs); ``None``
    when the action runs no steps or none of its steps declares a flow."""
    workflow = action.build_workflow()
    if workflow is None:
        return None
    rows = flow_table(workflow.registry.get_steps(), type(workflow.context), workflow.registry.inputs)
    return rows if any(row.flow is not None for row in rows) else None


def _required(row: FlowRow, name: str) -> str:
    source = row.sources.get(name)
    if source is not None:
        return f"{name} (from {source})"
    return f"{name} (NOT PROVIDED)" if name in row.unmet else f"{name} (input)"


def _provided(row: FlowRow, name: str) -> str:
    return f"{name} (output)" if name in row.outputs else name


def flow_rows_table(rows: list[FlowRow]) -> Table:
    """One line per step: requires (and where each comes from), provides (the workflow's
    products marked ``(output)``), and problems (unmet requirements, overwritten values)."""
    table = _titled("data flow")
    table.add_column("#", justify="right")
    table.add_column("step")
    table.add_column("requires")
    table.add_column("provides")
    table.add_column("problems")
    for order, row in enumerate(rows):
        if row.flow is None:
            table.add_row(str(order + 1), row.name, "(undeclared)", "(undeclared)", "")
            continue
        problems = [f"unmet: {name}" for name in row.unmet] + [
            f"unused: {name} (provided again before any step reads it)" for name in row.unused
        ]
        table.add_row(
            str(order + 1),
            row.name,
            ", ".join([*(_required(row, name) for name in row.flow.requires), *(f"{name} (optional)" for name in row.flow.reads)])
            or "-",
            ", ".join(_provided(row, name) for name in row.flow.provides) or "-",
            "; ".join(problems),
        )
    return table


def flow_mermaid_edges(rows: list[FlowRow]) -> list[str]:
    """Mermaid lines for the fields that flow: a thick edge from the step that provides a field to
    each step that requires it, labelled with the field (node ids as in ``actions.mermaid``)."""
    order_of = {row.name: order for order, row in enumerate(rows)}
    by_edge: dict[tuple[int, int], list[str]] = {}
    for order, row in enumerate(rows):
        for name, source in row.sources.items():
            by_edge.setdefault((order_of[source], order), []).append(name)
    return [
        f'    s{source} ==>|"{", ".join(names)}"| s{target}' for (source, target), names in sorted(by_edge.items())
    ]


def flow_json(rows: list[FlowRow] | None) -> list[dict[str, object]] | None:
    """The data-flow section of ``steprail plan --json``: one object per step (``requires`` and
    ``provides`` are ``null`` for an undeclared step), or ``null`` when nothing is declared."""
    if rows is None:
        return None
    return [
        {
            "name": row.name,
            "requires": None if row.flow is None else list(row.flow.requires),
            "provides": None if row.flow is None else list(row.flow.provides),
            "reads": None if row.flow is None else list(row.flow.reads),
            "sources": dict(row.sources),
            "unmet": list(row.unmet),
            "unused": list(row.unused),
            "outputs": list(row.outputs),
        }
        for row in rows
    ]
