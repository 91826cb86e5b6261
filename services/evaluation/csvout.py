"""CSV renderings of indicators and reports (one header line, `a.b` column names)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from services.evaluation.projections.figures import flatten


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return value


def table(rows: Iterable[Mapping[str, Any]]) -> str:
    flat = [flatten(row) for row in rows]
    columns: list[str] = []
    for row in flat:
        columns += [name for name in row if name not in columns]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n", restval="")
    writer.writeheader()
    for row in flat:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def indicators_csv(body: Mapping[str, Any]) -> str:
    group = body["filters"].get("group_by")
    rows = list(body.get("groups", [])) if group else []
    rows.append({**({group: "total"} if group else {"scope": "total"}), **body["totals"]})
    return table(rows)


def starter_ess_csv(body: Mapping[str, Any]) -> str:
    rows = []
    for a in body["accompaniments"]:
        row = {k: v for k, v in a.items() if k not in ("entry", "exit", "change")}
        row["member_id"] = body["member_id"]
        for moment in ("entry", "exit"):
            evaluation = a.get(moment) or {}
            row[f"{moment}.recorded_at"] = evaluation.get("recorded_at")
            row[f"{moment}.member_id"] = evaluation.get("member_id")
            for dim, score in (evaluation.get("dimension_scores") or {}).items():
                row[f"{moment}.{dim}"] = score
        for dim, delta in (a.get("change") or {}).items():
            row[f"change.{dim}"] = delta
        rows.append(row)
    if not rows:
        rows.append({"member_id": body["member_id"], "referral_id": ""})
    return table(rows)


def network_csv(body: Mapping[str, Any]) -> str:
    rows = [
        {"member": g["member"], **{k: v for k, v in g.items() if k != "member"}}
        for g in body["by_member"]
    ]
    rows.append({"member": "total", **body["totals"]})
    return table(rows)
