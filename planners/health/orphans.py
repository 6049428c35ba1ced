"""Orphaned backlog items: their plan is gone, or an input token is produced by no item.

Item A depends on item B when an input token of A is an output token of B (design.md §3), and
the tokens live in JSON arrays. Finding inputs nobody outputs needs the arrays unnested, which
the ORM cannot express portably, so this is one raw query per database vendor. It is a single
grouped pass: every unfinished item's input tokens are left-joined to every output token of its
plan, an item with an unmatched token (or no plan) is an orphan, and the page comes back with
the exact total (``COUNT(*) OVER ()``) without loading the backlog into Python.

The shape matters on PostgreSQL: the JSON functions' row estimates are guesses, and any form
with an anti-join or a join back to a derived "missing tokens" set was planned as a nested loop
over 30,000 unfinished items (10-60 s at 100,000 items). A left join only ever overestimates,
so it stays a hash join: ~0.35 s there, bounded by unnesting every output once.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import connection

from planners.health.report import BacklogItemRef
from planners.models import BacklogItem, BacklogStatus, FictionPlan

# Per vendor: unnest a JSON column into rows (alias.value) and the token text of a row. A bare
# string where a list was expected counts as one token, as the scheduler reads it
# (``planners.scheduling``); other shapes count as no tokens.
_UNNEST = {
    "sqlite": (
        "json_each(CASE WHEN json_type({col}) IN ('array', 'text') THEN {col} ELSE '[]' END) "
        "AS {alias}"
    ),
    "postgresql": (
        "jsonb_array_elements_text(CASE jsonb_typeof({col}) WHEN 'array' THEN {col} "
        "WHEN 'string' THEN jsonb_build_array({col}) ELSE '[]'::jsonb END) AS {alias}(value)"
    ),
}
_TOKEN = {"sqlite": "CAST({alias}.value AS TEXT)", "postgresql": "{alias}.value"}
_ARRAY_AGG = {"sqlite": "json_group_array({expr})", "postgresql": "json_agg({expr})"}

_SQL = """
WITH outs AS (
    SELECT o.plan_id AS plan_id, {out_token} AS token
    FROM {items} o, {unnest_outputs}
    WHERE o.synthetic = %s {out_plan_filter}
)
SELECT bi.id, bi.plan_id, p.name, bi.backlog_id, bi.phase, bi.status,
       {array_agg} FILTER (WHERE ij.value IS NOT NULL AND outs.token IS NULL),
       CASE WHEN p.id IS NULL THEN 1 ELSE 0 END, COUNT(*) OVER ()
FROM {items} bi
LEFT JOIN {plans} p ON p.id = bi.plan_id
LEFT JOIN {unnest_inputs} ON {in_token} <> ''
LEFT JOIN outs ON outs.plan_id = bi.plan_id AND outs.token = {in_token}
WHERE bi.synthetic = %s AND bi.status <> %s {plan_filter}
GROUP BY bi.id, bi.plan_id, p.id, p.name, bi.backlog_id, bi.phase, bi.status
HAVING p.id IS NULL
    OR COUNT(*) FILTER (WHERE ij.value IS NOT NULL AND outs.token IS NULL) > 0
ORDER BY bi.plan_id, bi.id
LIMIT %s
"""


def _tokens(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = json.loads(value)
    return tuple(sorted(str(token) for token in value if token not in (None, "")))


def orphaned_items(*, plan_id: int | None, limit: int) -> tuple[int, tuple[BacklogItemRef, ...]]:
    """Unfinished real items that cannot be resolved: (total, first ``limit`` of them)."""
    vendor = connection.vendor
    if vendor not in _UNNEST:
        raise NotImplementedError(f"orphan detection has no query for {vendor}")
    qn = connection.ops.quote_name
    plan_filter = "AND bi.plan_id = %s" if plan_id is not None else ""
    sql = _SQL.format(
        items=qn(BacklogItem._meta.db_table),
        plans=qn(FictionPlan._meta.db_table),
        unnest_outputs=_UNNEST[vendor].format(col="o.outputs", alias="oj"),
        unnest_inputs=_UNNEST[vendor].format(col="bi.inputs", alias="ij"),
        out_token=_TOKEN[vendor].format(alias="oj"),
        in_token=_TOKEN[vendor].format(alias="ij"),
        array_agg=_ARRAY_AGG[vendor].format(expr=_TOKEN[vendor].format(alias="ij")),
        plan_filter=plan_filter,
        out_plan_filter="AND o.plan_id = %s" if plan_id is not None else "",
    )
    scoped: list[Any] = [plan_id] if plan_id is not None else []
    params: list[Any] = [
        False,
        *scoped,
        False,
        BacklogStatus.COMPLETE.value,
        *scoped,
        limit,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    items = tuple(
        BacklogItemRef(
            id=row[0],
            plan_id=row[1],
            plan_name=row[2] or "",
            backlog_id=row[3],
            phase=row[4],
            status=row[5],
            missing_inputs=_tokens(row[6]),
            plan_missing=bool(row[7]),
        )
        for row in rows
    )
    return (rows[0][8] if rows else 0), items
