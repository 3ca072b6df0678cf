"""The Pulumi CLI as the e2e runs it: offline (file backend, passphrase secrets, no plugin
downloads), with the project's virtualenv and the stand-in AWS provider on PATH."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Result:
    ok: bool
    seconds: float
    stdout: str
    stderr: str


@dataclass
class Pulumi:
    root: Path
    """The project (Pulumi.yaml) directory."""
    state: Path
    """The file backend's directory."""
    env: dict[str, str]
    log_dir: Path

    @classmethod
    def offline(cls, root: Path, workdir: Path, extra_env: dict[str, str]) -> Pulumi:
        state = workdir / "state"
        state.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            **extra_env,
            "PULUMI_BACKEND_URL": f"file://{state}",
            "PULUMI_CONFIG_PASSPHRASE": "llm-platform-e2e",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_HOME": str(workdir / "pulumi-home"),
            "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
            "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
        }
        return cls(root, state, env, workdir / "logs")

    def run(
        self,
        log: str,
        *args: str,
        check: bool = True,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Result:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        proc = subprocess.run(
            ["pulumi", *args, "--non-interactive", "--color=never"],
            cwd=self.root,
            env={**self.env, **(env or {})},
            text=True,
            capture_output=True,
            input=stdin,
            timeout=1800,
        )
        seconds = time.monotonic() - started
        (self.log_dir / f"{log}.log").write_text(
            f"$ pulumi {' '.join(args)}\n(exit {proc.returncode}, {seconds:.1f} s)\n\n{proc.stdout}\n{proc.stderr}"
        )
        if check and proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-40:])
            raise RuntimeError(f"pulumi {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
        return Result(proc.returncode == 0, seconds, proc.stdout, proc.stderr)

    def version(self) -> str:
        return self.run("version", "version").stdout.strip().lstrip("v")

    def stack_resources(self, stack: str) -> list[dict[str, Any]]:
        out = self.run(f"{stack}-export", "stack", "export", "--stack", stack).stdout
        deployment = json.loads(out).get("deployment", {})
        return list(deployment.get("resources") or [])


def policy_events(stream: str) -> tuple[bool, list[str]]:
    """Whether the engine loaded the policy pack, and the violations it reported, from a
    preview's stream of engine events (one JSON object a line)."""
    loaded, violations = False, []
    for line in stream.splitlines():
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        if "policyLoadEvent" in event:
            loaded = True
        if "policyEvent" in event:
            e = event["policyEvent"]
            violations.append(
                f"{e.get('policyPackName')}/{e.get('policyName')} on {e.get('resourceUrn')}: {e.get('message')}"
            )
    return loaded, violations
