"""Hosts the components for other languages: TypeScript, Go, C#, Java and YAML stacks.

`pulumi package add` runs the repository's `__main__.py`, which calls `main()`:
Pulumi's Python component provider host reads the type annotations of each
component and its Args (hence TypedDicts of inputs and annotated outputs) and
serves the resulting package schema, from which the consumer's SDK is generated.

`python -m components.host schema` prints that schema.
"""

import collections.abc
import inspect
import json
import sys
import typing
from importlib.metadata import version
from typing import Any

import pulumi
from pulumi.provider import main as serve_provider
from pulumi.provider.experimental.analyzer import ComponentDefinition
from pulumi.provider.experimental.component import ComponentProvider

from components import (
    AiGateway,
    AuditLog,
    Cluster,
    EndpointPicker,
    GpuHeadroom,
    GpuNodePool,
    GpuRuntime,
    GpuTelemetry,
    ImageCache,
    InferenceService,
    IngressGateway,
    Karpenter,
    Keda,
    Logs,
    ModelGateway,
    ModelStore,
    ModelWeights,
    Monitoring,
    Network,
    Tenant,
)

# The package part of every type token: components register as llmplatform:index:<ClassName>.
PACKAGE = "llmplatform"
COMPONENTS: list[type[pulumi.ComponentResource]] = [
    Network,
    Cluster,
    Karpenter,
    GpuNodePool,
    GpuHeadroom,
    ImageCache,
    GpuRuntime,
    ModelStore,
    Tenant,
    ModelWeights,
    Keda,
    IngressGateway,
    InferenceService,
    AiGateway,
    EndpointPicker,
    ModelGateway,
    AuditLog,
    Monitoring,
    GpuTelemetry,
    Logs,
]


def package_version() -> str:
    return version("llm-platform")


class PlatformProvider(ComponentProvider):
    """Pulumi's component provider, with whole numbers given back their type.

    Pulumi's wire format carries every number as a float. pulumi 3.272's provider
    means to turn integer inputs back into int, but keeps the float (the
    conversion is overwritten a line later), so a TypeScript `tensorParallelSize: 2`
    would reach vLLM as "--tensor-parallel-size 2.0" and Kubernetes as "2.0" GPUs.
    """

    def map_inputs(self, inputs: Any, component_def: ComponentDefinition) -> Any:
        mapped = super().map_inputs(inputs, component_def)
        args_type = inspect.get_annotations(self._components[component_def.name].__init__)["args"]
        return whole_numbers(mapped, args_type)


def whole_numbers(value: Any, hint: Any) -> Any:
    """`value` with every integral float that `hint` types as int turned into an int."""
    leaves = _leaves(hint)
    if isinstance(value, float) and value.is_integer() and int in leaves and float not in leaves:
        return int(value)
    if isinstance(value, dict):
        for leaf in leaves:
            if typing.is_typeddict(leaf):
                fields = leaf.__annotations__  # unevaluated: pulumi.Input holds a forward reference
                return {k: whole_numbers(v, fields.get(k)) for k, v in value.items()}
            if typing.get_origin(leaf) in (dict, collections.abc.Mapping):
                return {k: whole_numbers(v, typing.get_args(leaf)[1]) for k, v in value.items()}
    if isinstance(value, list):
        for leaf in leaves:
            if typing.get_origin(leaf) in (list, collections.abc.Sequence):
                return [whole_numbers(v, typing.get_args(leaf)[0]) for v in value]
    return value


def _leaves(hint: Any) -> list[Any]:
    """The concrete types a hint admits, through Optional, Input (a Union with Awaitable and
    Output) and Required."""
    origin = typing.get_origin(hint)
    if origin in (
        typing.Union,
        typing.Required,
        typing.NotRequired,
        pulumi.Output,
        collections.abc.Awaitable,
    ):
        return [leaf for arg in typing.get_args(hint) for leaf in _leaves(arg)]
    if hint is not None and type(hint).__name__ == "UnionType":
        return [leaf for arg in typing.get_args(hint) for leaf in _leaves(arg)]
    return [hint]


def schema() -> dict[str, object]:
    """The package schema exactly as the host serves it to `pulumi package add`."""
    provider = PlatformProvider(COMPONENTS, PACKAGE, version=package_version())
    assert provider.schema is not None
    return dict(json.loads(provider.schema))


def main() -> None:
    if sys.argv[1:] == ["schema"]:
        print(json.dumps(schema(), indent=2, sort_keys=True))
        return
    # What pulumi.provider.experimental.component_provider_host does, with PlatformProvider.
    serve_provider(PlatformProvider(COMPONENTS, PACKAGE, version=package_version()), sys.argv[1:])


if __name__ == "__main__":
    main()
