"""Stack outputs: typed, documented, and what another stack needs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from infra.outputs import OUTPUTS, StackOutputs, render_reference
from tests.conftest import REPO, plan_cli


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_planned_outputs_match_their_types(planned: Callable[[str], Path], stack: str) -> None:
    outputs = json.loads((planned(stack) / "outputs.json").read_text())
    OUTPUTS.validate_python(outputs, strict=True)
    assert set(outputs) == set(
        StackOutputs.__annotations__
    )  # both stacks serve models: every output is there


def test_the_types_refuse_outputs_that_drifted(planned: Callable[[str], Path]) -> None:
    outputs = json.loads((planned("prod") / "outputs.json").read_text())
    del outputs["cluster"]["certificateAuthority"]
    with pytest.raises(ValidationError, match="certificateAuthority"):
        OUTPUTS.validate_python(outputs, strict=True)


def test_another_stack_can_build_a_kubernetes_provider(planned: Callable[[str], Path]) -> None:
    outputs = json.loads((planned("prod") / "outputs.json").read_text())
    cluster = outputs["cluster"]
    assert cluster["endpoint"].startswith("https://")
    assert cluster["certificateAuthority"]
    assert cluster["region"] == "us-east-1"
    assert outputs["kubeconfig"] == "[secret]"  # secret in the state, never printed


def test_every_model_has_an_endpoint_and_route(planned: Callable[[str], Path]) -> None:
    outputs = json.loads((planned("prod") / "outputs.json").read_text())
    domain = outputs["gateway"]["domain"]
    assert set(outputs["models"]) == {"llama-8b", "llama-70b"}
    for name, model in outputs["models"].items():
        assert model["hostname"] == f"{name}.{domain}"
        assert model["endpoint"] == f"https://{name}.{domain}"
        assert model["namespace"] in outputs["tenants"].values()
        assert model["route"] == f"{model['namespace']}/{name}"


def test_outputs_reference_is_current() -> None:
    assert (REPO / "docs" / "outputs.md").read_text() == render_reference()
    result = plan_cli("outputs")
    assert result.returncode == 0 and result.stdout == render_reference()


def test_every_output_is_documented() -> None:
    reference = render_reference()
    for key in StackOutputs.__annotations__:
        row = next(line for line in reference.splitlines() if line.startswith(f"| `{key}` |"))
        assert not row.endswith("|  |"), key
    assert "| `cluster.certificateAuthority` | string |" in reference
    assert "| `gpuPools.<name>.placement.nodeSelector` | map of string |" in reference
