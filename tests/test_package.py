"""`pip install` of the repository: what another stack gets."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO


def test_the_wheel_carries_the_components_and_the_program_only(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "--wheel-dir",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("llm_platform-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {
        "components",
        "infra",
        wheel.name.split("-py3")[0] + ".dist-info",
    }
    assert "components/host.py" in names and "components/core/sizing.py" in names

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    # Run away from the checkout, with the installed files first on the path: what a consumer has.
    probe = (
        "import components, components.host; "
        "from components import Cluster, InferenceService, ModelWeights, Tenant; "
        "print(components.__file__); "
        "print(sorted(components.host.schema()['resources']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=True,
    )
    location, resources = result.stdout.splitlines()
    assert location.startswith(str(site))
    assert "'llmplatform:index:InferenceService'" in resources
