"""JSON Schema of a Pulumi.<stack>.yaml file, built from the config models.

Editors validate stack files with docs/config.schema.json; a test keeps that
file equal to what this module builds.
"""

from __future__ import annotations

from typing import Any

from infra.config.load import NAMESPACE
from infra.config.stack import StackConfig

SCHEMA_ID = "https://llm-platform.invalid/config.schema.json"


SECURE_VALUE = {
    "type": "object",
    "description": "An encrypted value written by `pulumi config set --secret`.",
    "properties": {"secure": {"type": "string"}},
    "required": ["secure"],
    "additionalProperties": False,
}


def _accept_secure(node: Any) -> Any:
    """Secret fields hold `{secure: <ciphertext>}` in a stack file, not a plain string."""
    if isinstance(node, dict):
        if node.get("format") == "password":
            described = {"description": node["description"]} if "description" in node else {}
            return {**described, "anyOf": [SECURE_VALUE, {"type": "string"}]}
        return {k: _accept_secure(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_accept_secure(v) for v in node]
    return node


def stack_file_schema() -> dict[str, Any]:
    model = _accept_secure(StackConfig.model_json_schema(by_alias=True, ref_template="#/$defs/{model}"))
    sections = {f"{NAMESPACE}:{key}": value for key, value in model["properties"].items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Pulumi.<stack>.yaml of the llm-platform project",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": sections,
                "required": [f"{NAMESPACE}:{key}" for key in model.get("required", [])],
                # other namespaces (aws:, pulumi:) belong to Pulumi and its providers;
                # an unknown key of this project's namespace is a typo
                "patternProperties": {f"^(?!{NAMESPACE}:)[-\\w.]+:": {}},
                "additionalProperties": False,
            },
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "environment": {},
        },
        "required": ["config"],
        "additionalProperties": False,
        "$defs": model.get("$defs", {}),
    }
