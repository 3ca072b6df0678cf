"""Turn raw config sections into a validated StackConfig, or into a list of problems."""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from infra.config.checks import check_stack
from infra.config.problem import Problem
from infra.config.stack import StackConfig

NAMESPACE = "llm-platform"


class ConfigError(Exception):
    """The stack config is invalid; `problems` says where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def load_stack_config(
    sections: Mapping[str, Any], secret_sections: Collection[str] = (), project_dir: Path | None = None
) -> StackConfig:
    """Validate the `llm-platform:*` sections of a stack (namespace stripped).

    `secret_sections` say what Pulumi holds encrypted: the paths of `secure:`
    values (`models.llama.apiKey`), or a whole section; a secret field anywhere
    else is a secret in plain text, and is refused, whatever its neighbours are. Relative paths in
    the config (local charts) start at `project_dir`, the directory of
    Pulumi.yaml (default: the working directory), and come out absolute.
    """
    try:
        cfg = StackConfig.model_validate(dict(sections), context={"project_dir": project_dir or Path.cwd()})
    except ValidationError as exc:
        raise ConfigError(_problems(exc.errors())) from None
    problems = check_stack(cfg, secret_sections)
    if problems:
        raise ConfigError(problems)
    return cfg


def format_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            part = _printable(part)
            path += f".{part}" if path else part
    return path


def _printable(key: str) -> str:
    """A key as one line: control characters and blanks of a key typed by mistake shown escaped."""
    if key and key.isprintable() and key.strip() == key:
        return key
    return json.dumps(key)


def _problems(errors: list[ErrorDetails]) -> list[Problem]:
    """One problem per error, without the noise of union fields: when a value may be a string
    or an object, the branch the value did not try to be only says "not a string"."""
    paths = [_strip_union_tags(e["loc"]) for e in errors]
    kept = []
    dropped: dict[tuple[int | str, ...], list[str]] = {}
    for error, loc in zip(errors, paths, strict=True):
        mismatch = error["type"] in _EXPECTED
        if mismatch and sum(1 for other in paths if other[: len(loc)] == loc) > 1:
            dropped.setdefault(loc, []).append(_EXPECTED[error["type"]])
            continue
        kept.append(_problem(error))
    # A value that is none of the union's kinds (`architecture: null`) fails every branch
    # with a mismatch alone: say what it may be instead of nothing.
    reported = [format_path(_strip_union_tags(e["loc"])) for e in errors if _problem(e) in kept]
    for loc, expected in dropped.items():
        path = format_path(loc)
        if not any(r == path or r.startswith((f"{path}.", f"{path}[")) for r in reported):
            kinds = " or ".join(dict.fromkeys(expected))
            kept.append(Problem(path, f"has the wrong kind of value; expected {kinds}"))
    return kept


_EXPECTED = {
    "string_type": "a string",
    "model_type": "an object of keys",
    "dict_type": "a mapping",
    "model_attributes_type": "an object of keys",
}


def _problem(error: ErrorDetails) -> Problem:
    loc = _strip_union_tags(error["loc"])
    if error["type"] == "extra_forbidden":
        known = _keys_at(loc[:-1])
        hint = f"; known keys here: {', '.join(known)}" if known else ""
        if not loc[:-1]:
            hint = f"; this program reads {NAMESPACE}:{{{', '.join(known)}}}"
        return Problem(format_path(loc), f"unknown key{hint}")
    if error["type"] == "missing":
        return Problem(format_path(loc), "is required but not set")
    return Problem(format_path(loc), _message(error))


def _message(error: ErrorDetails) -> str:
    msg = error["msg"]
    # pydantic prefixes errors raised by validators; the prefix says nothing to a user
    return msg.removeprefix("Value error, ")


def _strip_union_tags(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Drop the branch names pydantic inserts into the path of union fields (`X | None`,
    `str | Model`): they are types, not keys a user wrote."""
    tags = _type_tags()
    return tuple(p for p in loc if not (isinstance(p, str) and (p in tags or ("[" in p and p.endswith("]")))))


def _model_names(model: type[BaseModel]) -> set[str]:
    names = {model.__name__}
    for field in model.model_fields.values():
        for candidate in (field.annotation, *get_args(field.annotation)):
            inner = _unwrap(candidate)
            for option in (inner, *get_args(inner)):
                if isinstance(option, type) and issubclass(option, BaseModel) and option is not model:
                    names |= _model_names(option)
    return names


@functools.cache
def _type_tags() -> set[str]:
    return _model_names(StackConfig) | {"str", "int", "float", "bool"}


def _keys_at(loc: tuple[int | str, ...]) -> list[str]:
    """The keys a config object at `loc` accepts, for the 'unknown key' hint."""
    model: Any = StackConfig
    for part in loc:
        model = _inner_model(model, part)
        if model is None:
            return []
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items()]
    return []


def _inner_model(model: Any, part: int | str) -> Any:
    if isinstance(model, type) and issubclass(model, BaseModel):
        for name, field in model.model_fields.items():
            if part in (name, field.alias):
                return _unwrap(field.annotation)
        return None
    if get_origin(model) in (dict, list):
        return _unwrap(get_args(model)[-1])
    return None


def _unwrap(annotation: Any) -> Any:
    """The model inside `Annotated[...]`, `X | None`, `list[X]`, `dict[K, X]`."""
    while True:
        args = [a for a in get_args(annotation) if a is not type(None)]
        origin = get_origin(annotation)
        if origin in (dict, list) or not args:
            return annotation
        annotation = args[0]
