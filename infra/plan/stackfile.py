"""Read Pulumi.yaml and Pulumi.<stack>.yaml into the config map the Pulumi engine would hand the program.

Values marked `secure:` are never decrypted: they become "[secret]" and their
key is flagged secret, as the engine flags keys holding decrypted secrets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.plan.secrets import REDACTED


class StackFileError(Exception):
    """A project or stack file is missing or unreadable."""


@dataclass(frozen=True)
class StackFiles:
    project: str
    config: dict[str, str]
    """Fully qualified key (`namespace:key`) -> value, encoded as the engine encodes it."""
    secret_keys: frozenset[str]
    secure_paths: frozenset[str] = frozenset()
    """Fully qualified key and path (`namespace:key.a.b`) of every `secure:` value: the engine flags
    a whole key secret when any value inside it is, so only the file tells which values are."""

    def sections(self, namespace: str) -> tuple[dict[str, Any], set[str]]:
        """The keys of `namespace` (namespace stripped) decoded, and the paths of the values in
        them that the file holds encrypted (`models.llama.apiKey`; a key alone when all of it is)."""
        prefix = f"{namespace}:"
        sections = {
            key.removeprefix(prefix): decode(value)
            for key, value in self.config.items()
            if key.startswith(prefix)
        }
        secret = {path.removeprefix(prefix) for path in self.secure_paths if path.startswith(prefix)}
        return sections, secret


def read_stack(project_dir: Path, stack: str, stack_file: Path | None = None) -> StackFiles:
    project_file = project_dir / "Pulumi.yaml"
    project_doc = _load_yaml(project_file)
    project = project_doc.get("name")
    if not isinstance(project, str):
        raise StackFileError(f"{project_file}: has no project name")
    stack_path = stack_file or project_dir / f"Pulumi.{stack}.yaml"
    stack_doc = _load_yaml(stack_path)

    config: dict[str, Any] = {}
    for key, declared in (project_doc.get("config") or {}).items():
        value = declared.get("value", declared.get("default")) if isinstance(declared, dict) else declared
        if value is not None:
            config[_qualify(project, key)] = value
    stack_config = stack_doc.get("config") or {}
    if not isinstance(stack_config, dict):
        raise StackFileError(f"{stack_path}: 'config' must be a mapping")
    for key, value in stack_config.items():
        config[_qualify(project, key)] = value

    secret_keys = {key for key, value in config.items() if _has_secure(value)}
    secure_paths = {path for key, value in config.items() for path in _secure_paths(value, key)}
    encoded = {key: _encode(_strip_secure(value)) for key, value in config.items()}
    return StackFiles(
        project=project,
        config=encoded,
        secret_keys=frozenset(secret_keys),
        secure_paths=frozenset(secure_paths),
    )


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key written twice in one mapping: PyYAML keeps the last one
    silently, so a model pasted twice or a second `maxSize:` would win without a word."""


def _mapping_without_duplicates(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:  # an unhashable key: construct_mapping reports it
            continue
        if duplicate:
            first = seen[key].start_mark.line + 1
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key {key!r} appears twice in one mapping (first on line {first}); keep one",
                key_node.start_mark,
            )
        seen[key] = key_node
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def load_yaml_text(text: str) -> Any:
    """Parse YAML as yaml.safe_load does, but refuse duplicate keys."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: no arbitrary objects


def _load_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise StackFileError(f"{path}: no such file")
    try:
        doc = load_yaml_text(path.read_text())
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path}: not valid YAML: {_one_line(exc)}") from None
    if not isinstance(doc, dict):
        raise StackFileError(f"{path}: must be a YAML mapping")
    return doc


def _one_line(exc: yaml.YAMLError) -> str:
    """The parser's complaint on one line, with the line it is about (the contract: one line per problem)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        return f"line {exc.problem_mark.line + 1}, column {exc.problem_mark.column + 1}: {exc.problem}"
    return " ".join(str(exc).split())


def _qualify(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _secure_paths(value: Any, path: str) -> list[str]:
    if _is_secure(value):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _secure_paths(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _secure_paths(v, f"{path}[{i}]")]
    return []


def _has_secure(value: Any) -> bool:
    if _is_secure(value):
        return True
    if isinstance(value, dict):
        return any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False


def _strip_secure(value: Any) -> Any:
    if _is_secure(value):
        return REDACTED
    if isinstance(value, dict):
        return {k: _strip_secure(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_secure(v) for v in value]
    return value


def decode(value: str) -> Any:
    """The inverse of the engine's encoding: JSON where it parses, the string otherwise."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def _encode(value: Any) -> str:
    """Strings as they are, everything else as JSON (how the engine passes config)."""
    return value if isinstance(value, str) else json.dumps(value)
