"""The stack program: read the stack config once, then wire the components into one graph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi

from infra.cloud import build_cloud
from infra.config import NAMESPACE, ConfigError, StackConfig, load_stack_config
from infra.observability import build_observability
from infra.outputs import export
from infra.plan.secrets import REDACTED
from infra.plan.stackfile import StackFileError, decode, read_stack
from infra.serving import build_serving
from infra.workloads import build_workloads


def main() -> None:
    """Entry point under the Pulumi engine (or the offline plan's mock engine)."""
    try:
        cfg = load_stack_config(*read_sections(), project_dir=project_dir())
    except ConfigError as exc:
        # RunError is reported without a traceback: the lines already say what to fix.
        raise pulumi.RunError(f"invalid stack config:\n{exc}") from None
    build(cfg, pulumi.get_stack())


def project_dir() -> Path:
    """The directory of Pulumi.yaml, where relative paths in the config start. The engine says
    where it is (under `pulumi up` the program runs in infra/, its `main`); the offline plan
    runs in it, or else reads the checkout this package is installed from."""
    for candidate in (pulumi.get_root_directory(), Path.cwd()):
        # Outside the engine the runtime's root directory is a placeholder (or None).
        if candidate and (Path(candidate) / "Pulumi.yaml").is_file():
            return Path(candidate)
    return Path(__file__).resolve().parents[1]


def read_sections() -> tuple[dict[str, Any], set[str]]:
    """The `llm-platform:*` config keys of this stack (structured values decoded), and the
    paths of the values in them that Pulumi holds as secrets.

    The engine flags a whole key secret when any value in it is `secure:`, so which values
    are comes from the stack file (Pulumi.<stack>.yaml in the project directory) and, in the
    offline plan, from the placeholder that replaced each of them. Without a stack file to
    read, a key the engine flags secret counts as secret throughout."""
    from pulumi.runtime.config import CONFIG, is_config_secret

    # pulumi.Config has no way to list keys, and an unknown key (a typo) must be an error
    # rather than silently ignored, so read the raw config map the engine handed us.
    raw: dict[str, Any] = dict(CONFIG.get())
    prefix = f"{NAMESPACE}:"
    sections: dict[str, Any] = {}
    secret: set[str] = set()
    for key, value in raw.items():
        if key.startswith(prefix):
            section = key.removeprefix(prefix)
            sections[section] = decode(value) if isinstance(value, str) else value
            if is_config_secret(key):
                secret.add(section)
    if not secret:
        return sections, secret
    try:
        files = read_stack(project_dir(), pulumi.get_stack())
    except StackFileError:
        return sections, secret
    paths = files.sections(NAMESPACE)[1]
    for section in list(secret):
        secret.discard(section)
        secret |= {p for p in paths if p == section or p.startswith((f"{section}.", f"{section}["))}
        secret |= set(_placeholders(sections[section], section))
    return sections, secret


def _placeholders(value: Any, path: str) -> list[str]:
    """Paths holding the offline plan's stand-in for a `secure:` value."""
    if value == REDACTED:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _placeholders(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _placeholders(v, f"{path}[{i}]")]
    return []


def build(cfg: StackConfig, stack: str) -> None:
    cloud = build_cloud(cfg, stack)
    observability = build_observability(cfg, cloud)
    workloads = build_workloads(cfg, cloud)
    serving = build_serving(cfg, cloud, workloads, observability)

    export(cfg, cloud, workloads, serving, observability)
