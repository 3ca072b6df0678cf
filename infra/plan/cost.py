"""cost.json of an offline plan, and the difference between two plans' costs.

The pull-request job plans the base branch and the change, then posts
`python -m infra cost-diff BASE HEAD`: what the change does to the monthly bill
at minimum and maximum scale, line by line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from components.core.costs import EXCLUDED, HOURS_PER_MONTH, monthly_total, total
from infra.config import StackConfig
from infra.plan.summary import stack_costs

COST_FILE = "cost.json"


class CostFileError(Exception):
    pass


def cost_record(cfg: StackConfig, stack: str) -> dict[str, Any]:
    lines = stack_costs(cfg)
    hourly, monthly = total(lines), monthly_total(lines)
    return {
        "stack": stack,
        "region": cfg.aws.region,
        "hoursPerMonth": HOURS_PER_MONTH,
        "lines": [
            {
                "item": line.item,
                "hourlyMin": round(line.hourly_min, 4),
                "hourlyMax": round(line.hourly_max, 4),
                "monthlyMin": round(line.monthly_min, 2),
                "monthlyMax": round(line.monthly_max, 2),
                "note": line.note,
            }
            for line in lines
        ],
        "total": {
            "hourlyMin": round(hourly[0], 4),
            "hourlyMax": round(hourly[1], 4),
            "monthlyMin": round(monthly[0], 2),
            "monthlyMax": round(monthly[1], 2),
        },
        "excluded": EXCLUDED,
    }


def read_cost(path: Path) -> dict[str, Any]:
    """A plan directory's cost.json, or the file itself."""
    file = path / COST_FILE if path.is_dir() else path
    try:
        record = json.loads(file.read_text())
    except FileNotFoundError:
        raise CostFileError(f"{file}: no such file; make it with `python -m infra plan`") from None
    except json.JSONDecodeError as exc:
        raise CostFileError(f"{file}: not JSON ({exc})") from None
    if not isinstance(record, dict) or "lines" not in record or "total" not in record:
        raise CostFileError(f"{file}: not a cost.json of an offline plan")
    return record


def _usd(value: float) -> str:
    return f"${value:,.0f}"


def _delta(value: float) -> str:
    if abs(value) < 0.5:
        return "0"
    return f"+${value:,.0f}" if value > 0 else f"-${-value:,.0f}"


def render_diff(base: dict[str, Any], head: dict[str, Any]) -> str:
    """Markdown: the monthly cost of each changed line before and after, and the totals."""
    stack = head.get("stack", "?")
    before = {line["item"]: line for line in base["lines"]}
    after = {line["item"]: line for line in head["lines"]}
    zero = {"monthlyMin": 0.0, "monthlyMax": 0.0}
    rows = []
    for item in [*before, *(i for i in after if i not in before)]:
        b, a = before.get(item, zero), after.get(item, zero)
        if (b["monthlyMin"], b["monthlyMax"]) == (a["monthlyMin"], a["monthlyMax"]):
            continue
        rows.append(
            f"| {item} | {_usd(b['monthlyMin'])} .. {_usd(b['monthlyMax'])} "
            f"| {_usd(a['monthlyMin'])} .. {_usd(a['monthlyMax'])} "
            f"| {_delta(a['monthlyMin'] - b['monthlyMin'])} .. {_delta(a['monthlyMax'] - b['monthlyMax'])} |"
        )
    bt, at = base["total"], head["total"]
    lines = [f"### Monthly cost of stack `{stack}` (minimum .. maximum scale)", ""]
    if not rows:
        lines.append(f"No change: {_usd(at['monthlyMin'])} .. {_usd(at['monthlyMax'])} a month.")
    else:
        lines += ["| item | before | after | change |", "|---|---|---|---|", *rows]
        lines.append(
            f"| **total** | **{_usd(bt['monthlyMin'])} .. {_usd(bt['monthlyMax'])}** "
            f"| **{_usd(at['monthlyMin'])} .. {_usd(at['monthlyMax'])}** "
            f"| **{_delta(at['monthlyMin'] - bt['monthlyMin'])} .. {_delta(at['monthlyMax'] - bt['monthlyMax'])}** |"
        )
    lines += ["", f"On-demand list prices; not included: {head.get('excluded', EXCLUDED)}."]
    return "\n".join(lines) + "\n"
