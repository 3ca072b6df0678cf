"""A small IAM policy evaluator for tests: enough of AWS's rules to ask "may this role do X?".

Explicit deny wins, then any allow; Action and Resource match with * and ?
wildcards; the condition operators the platform uses are evaluated against a
request context, and a condition on a key the request lacks does not match.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _matches(patterns: Any, value: str, case_sensitive: bool = True) -> bool:
    for pattern in _listify(patterns):
        if case_sensitive and fnmatchcase(value, pattern):
            return True
        if not case_sensitive and fnmatchcase(value.lower(), str(pattern).lower()):
            return True
    return False


def _condition_holds(conditions: dict[str, dict[str, Any]], context: dict[str, Any]) -> bool:
    for operator, clauses in conditions.items():
        for key, expected in clauses.items():
            if operator == "Null":  # "true": the key must be absent; "false": present
                if (key not in context) != (str(expected).lower() == "true"):
                    return False
                continue
            if operator in ("StringNotEquals", "ArnNotEquals"):
                # A negated operator holds when the key is absent, as in AWS.
                if key in context and str(context[key]) in [str(e) for e in _listify(expected)]:
                    return False
                continue
            if key not in context:
                return False
            actual = str(context[key])
            if operator in ("StringEquals", "ArnEquals", "Bool"):
                ok = actual in [str(e).lower() if operator == "Bool" else str(e) for e in _listify(expected)]
            elif operator in ("StringLike", "ArnLike"):
                ok = _matches(expected, actual)
            else:
                raise NotImplementedError(f"condition operator {operator}")
            if not ok:
                return False
    return True


def allows(
    policy: str | dict[str, Any], action: str, resource: str, context: dict[str, Any] | None = None
) -> bool:
    doc = json.loads(policy) if isinstance(policy, str) else policy
    allowed = False
    for statement in _listify(doc["Statement"]):
        if not _matches(statement.get("Action", []), action, case_sensitive=False):
            continue
        if not _matches(statement.get("Resource", "*"), resource):
            continue
        if not _condition_holds(statement.get("Condition", {}), context or {}):
            continue
        if statement["Effect"] == "Deny":
            return False
        allowed = True
    return allowed
