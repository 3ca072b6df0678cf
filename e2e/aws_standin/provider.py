"""TEST DOUBLE for the e2e only: a stand-in for the Pulumi AWS resource provider.

The e2e runs the stack program under the real Pulumi engine against a local
kube-apiserver; the real AWS provider cannot be built or reach AWS there. This
plugin (launched as `pulumi-resource-aws` from PATH) answers the engine in its
place. It proves the graph runs under the engine -- ordering, dependencies,
secrets, previews, the Kubernetes provider configured from the cluster's
outputs -- and proves nothing about AWS: nothing is created anywhere.

What it answers comes from the offline plan's own table, not a second one:
`infra.plan.mocks.PlatformMocks` computes the ids, ARNs and outputs AWS would
(`new_resource`) and the invokes' answers (`call`). The only difference is the
EKS cluster: its `endpoint` and `certificateAuthority.data` are the local API
server's, from LLM_PLATFORM_E2E_KUBE_ENDPOINT and LLM_PLATFORM_E2E_KUBE_CA_DATA.

Behaviour per method:

- check_config / check: the inputs as given (no defaults, no autonaming; the
  mocks autoname at create, deterministically).
- diff_config: never asks for a change of its own (see `diff_config`).
- configure: records the region (`region`) and the account (the first of
  `allowedAccountIds`, as the offline plan does); accepts secrets, supports
  previews.
- create: an id and the inputs plus what AWS computes. In a preview, what AWS
  computes is unknown, as it is with the real provider.
- diff: compares the state the new inputs would give with the stored state, on
  the input properties; replaces only where AWS certainly would (the change
  names another physical resource, or a property AWS cannot update in place).
- update: the new inputs plus the computed outputs, which stay as they were.
- read: the stored state as is, so `pulumi refresh` changes nothing.
- delete: nothing to delete.
- invoke: getPartition, getRegion, getCallerIdentity, ec2 getSubnet and getPrefixList; any other
  token fails naming it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from pulumi.provider.experimental import server
from pulumi.provider.experimental.property_value import Computed, PropertyValue, ResourceReference
from pulumi.provider.experimental.provider import (
    CheckRequest,
    CheckResponse,
    ConfigureRequest,
    ConfigureResponse,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    DiffRequest,
    DiffResponse,
    InvokeRequest,
    InvokeResponse,
    PropertyDiff,
    PropertyDiffKind,
    Provider,
    ReadRequest,
    ReadResponse,
    UpdateRequest,
    UpdateResponse,
)
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs
from pulumi.runtime.rpc import UNKNOWN

from infra.plan.mocks import DEFAULT_ACCOUNT, PlatformMocks

ENDPOINT_ENV = "LLM_PLATFORM_E2E_KUBE_ENDPOINT"
"""The local API server's URL, e.g. https://127.0.0.1:6443: the EKS cluster's `endpoint`."""
CA_ENV = "LLM_PLATFORM_E2E_KUBE_CA_DATA"
"""Base64 of the local API server's PEM CA: the EKS cluster's `certificateAuthority.data`."""

EKS_CLUSTER = "aws:eks/cluster:Cluster"
DEFAULT_REGION = "us-east-1"

FORCE_NEW: dict[str, frozenset[str]] = {
    "aws:ec2/vpc:Vpc": frozenset({"cidrBlock"}),
    "aws:ec2/subnet:Subnet": frozenset({"vpcId", "cidrBlock", "availabilityZone", "availabilityZoneId"}),
    "aws:eks/cluster:Cluster": frozenset({"roleArn"}),
    "aws:eks/nodeGroup:NodeGroup": frozenset(
        {
            "clusterName",
            "nodeGroupName",
            "nodeRoleArn",
            "subnetIds",
            "instanceTypes",
            "amiType",
            "capacityType",
        }
    ),
    "aws:eks/addon:Addon": frozenset({"clusterName", "addonName"}),
    "aws:eks/accessEntry:AccessEntry": frozenset({"clusterName", "principalArn"}),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": frozenset(
        {"clusterName", "namespace", "serviceAccount"}
    ),
    "aws:efs/mountTarget:MountTarget": frozenset({"fileSystemId", "subnetId"}),
}
"""Inputs AWS cannot change in place (ForceNew upstream), besides those naming the resource.

A change of a name (an IAM role's, a bucket's, a cluster's) changes the id the
mocks derive, and `diff` treats any change of id as a replacement; this table
only lists the other properties whose change certainly replaces.
"""

_MIN_SECRET_LEN = 4
"""Secret strings this long or longer mark a computed value that contains them secret."""


class StandinError(Exception):
    """A request the e2e's AWS stand-in cannot answer."""


def resource_type(urn: str) -> str:
    """The resource's own type token in `urn`.

    The framework's `request.type` is the URN's qualified type, which for a child
    resource starts with its parents' types ("...Cluster$aws:eks/cluster:Cluster").
    """
    return urn.split("::")[-2].split("$")[-1]


def plugin_version() -> str:
    """The version of the installed pulumi_aws SDK, read from its pulumi-plugin.json.

    The SDK asks the engine for the `aws` plugin of exactly this version; the
    engine takes `pulumi-resource-aws` from PATH whatever it claims, but warns
    ("is expected to have version >=...") when GetPluginInfo reports a lower
    one, and records the reported version in the state. Reporting the SDK's
    own version keeps the e2e's output free of that warning and its state
    consistent with the SDK the program ran with.
    """
    spec = find_spec("pulumi_aws")
    if spec is None or not spec.submodule_search_locations:
        raise StandinError("the e2e AWS stand-in needs the pulumi_aws package installed (for its version)")
    for location in spec.submodule_search_locations:
        path = Path(location) / "pulumi-plugin.json"
        if path.is_file():
            return str(json.loads(path.read_text())["version"])
    raise StandinError("pulumi_aws has no pulumi-plugin.json to read the plugin version from")


def plain(value: PropertyValue) -> Any:
    """The Python value of `value`, secrets unwrapped; unknowns are Pulumi's unknown sentinel."""
    inner = value.value
    if isinstance(inner, Computed):
        return UNKNOWN
    if isinstance(inner, ResourceReference):
        return plain(inner.resource_id) if inner.resource_id is not None else inner.urn
    if isinstance(inner, Mapping):
        return {k: plain(v) for k, v in inner.items()}
    if isinstance(inner, Sequence) and not isinstance(inner, str):
        return [plain(v) for v in inner]
    return inner


def plain_map(values: Mapping[str, PropertyValue]) -> dict[str, Any]:
    return {k: plain(v) for k, v in values.items()}


def to_property(value: Any) -> PropertyValue:
    """A PropertyValue of a plain Python value (numbers become floats, as on the wire)."""
    if isinstance(value, PropertyValue):
        return value
    if value is None or isinstance(value, bool | str):
        return PropertyValue(value)
    if isinstance(value, int | float):
        return PropertyValue(float(value))
    if isinstance(value, Mapping):
        return PropertyValue({str(k): to_property(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return PropertyValue([to_property(v) for v in value])
    raise TypeError(f"cannot send a {type(value).__name__} to the engine: {value!r}")


def _contains_unknown(value: Any) -> bool:
    if isinstance(value, str):
        return UNKNOWN in value
    if isinstance(value, Mapping):
        return any(_contains_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_contains_unknown(v) for v in value)
    return False


def _secret_strings(value: PropertyValue, inside_secret: bool = False) -> Iterable[str]:
    """Every string under a secret in `value`."""
    inside_secret = inside_secret or value.is_secret
    inner = value.value
    if isinstance(inner, str):
        if inside_secret and len(inner) >= _MIN_SECRET_LEN and inner != UNKNOWN:
            yield inner
    elif isinstance(inner, Mapping):
        for field in inner.values():
            yield from _secret_strings(field, inside_secret)
    elif isinstance(inner, Sequence):
        for element in inner:
            if isinstance(element, PropertyValue):
                yield from _secret_strings(element, inside_secret)


def _mentions(value: Any, secrets: frozenset[str]) -> bool:
    if not secrets:
        return False
    if isinstance(value, str):
        return any(secret in value for secret in secrets)
    if isinstance(value, Mapping):
        return any(_mentions(v, secrets) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_mentions(v, secrets) for v in value)
    return False


def _known_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value and UNKNOWN not in value else None


def _str_list(value: Any) -> list[str]:
    """A list of strings given as a list, or JSON-encoded as provider config is."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return [value] if _known_str(value) else []
    if isinstance(value, list):
        return [v for v in value if _known_str(v)]
    return []


def local_api_server() -> dict[str, Any]:
    """The EKS cluster outputs that point at the e2e's local API server, from the environment."""
    endpoint = os.environ.get(ENDPOINT_ENV, "")
    ca_data = os.environ.get(CA_ENV, "")
    missing = [name for name, value in ((ENDPOINT_ENV, endpoint), (CA_ENV, ca_data)) if not value]
    if missing:
        raise StandinError(
            f"the e2e AWS stand-in points the EKS cluster it creates at the local API server; set {' and '.join(missing)}"
        )
    if not endpoint.startswith("https://"):
        raise StandinError(f"{ENDPOINT_ENV} must be the API server's https:// URL, not {endpoint!r}")
    try:
        pem = base64.b64decode(ca_data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise StandinError(f"{CA_ENV} must be base64 of the API server's PEM CA: {exc}") from exc
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise StandinError(
            f"{CA_ENV} must be base64 of the API server's PEM CA; it decodes to no certificate"
        )
    return {"endpoint": endpoint, "certificateAuthority": {"data": ca_data}}


class AwsStandin(Provider):
    """TEST DOUBLE for the e2e only: answers the engine as the AWS provider would, creating nothing."""

    def __init__(self) -> None:
        self.mocks = PlatformMocks(region=DEFAULT_REGION, account=DEFAULT_ACCOUNT)

    @property
    def region(self) -> str:
        return self.mocks.region

    @property
    def account(self) -> str:
        return self.mocks.account

    async def check_config(self, request: CheckRequest) -> CheckResponse:
        return CheckResponse(inputs=request.new_inputs)

    async def diff_config(self, request: DiffRequest) -> DiffResponse:
        # No change of our own, and never a replacement of the provider (which would
        # replace every resource). `changes` stays unset: the framework's DiffConfig
        # sends the bool as the proto enum, where True would mean DIFF_NONE and False
        # DIFF_UNKNOWN. Unset (DIFF_UNKNOWN) makes the engine compare old and new
        # config itself, so a changed config is an in-place update of the provider.
        return DiffResponse()

    async def configure(self, request: ConfigureRequest) -> ConfigureResponse:
        args = plain_map(request.args)
        region = (
            _known_str(args.get("region"))
            or _known_str(request.variables.get("aws:config:region"))
            or _known_str(request.variables.get("aws:region"))
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or DEFAULT_REGION
        )
        allowed = _str_list(args.get("allowedAccountIds")) or _str_list(
            request.variables.get("aws:config:allowedAccountIds")
        )
        # Same account choice as the offline plan (infra/cli.py): the first allowed one.
        self.mocks = PlatformMocks(region=region, account=allowed[0] if allowed else DEFAULT_ACCOUNT)
        return ConfigureResponse(
            accept_secrets=True,
            supports_preview=True,
            accept_resources=False,
            accept_outputs=False,
        )

    async def check(self, request: CheckRequest) -> CheckResponse:
        return CheckResponse(inputs=request.new_inputs)

    async def create(self, request: CreateRequest) -> CreateResponse:
        resource_id, state = self._state(
            resource_type(request.urn),
            request.name,
            request.properties,
            old=None,
            preview=request.preview,
        )
        return CreateResponse(resource_id=None if request.preview else resource_id, properties=state)

    async def diff(self, request: DiffRequest) -> DiffResponse:
        old = plain_map(request.old_state)
        new_id, projected_state = self._state(
            resource_type(request.urn), request.name, request.new_inputs, old=request.old_state, preview=False
        )
        projected = plain_map(projected_state)
        # The inputs as now given, and whatever the stored state has that the new inputs no
        # longer give (a removed input); outputs AWS computes are no diff of their own.
        keys = (set(request.new_inputs) | (set(old) - set(projected))) - set(request.ignore_changes)
        changed = sorted(k for k in keys if old.get(k) != projected.get(k))
        if not changed:
            return DiffResponse(changes=False)
        replaces = self._replaces(request, changed, new_id)
        detailed: dict[str, PropertyDiff] = {}
        for key in changed:
            if old.get(key) is None:
                kind = PropertyDiffKind.ADD_REPLACE if key in replaces else PropertyDiffKind.ADD
            elif projected.get(key) is None:
                kind = PropertyDiffKind.DELETE_REPLACE if key in replaces else PropertyDiffKind.DELETE
            else:
                kind = PropertyDiffKind.UPDATE_REPLACE if key in replaces else PropertyDiffKind.UPDATE
            detailed[key] = PropertyDiff(kind, input_diff=True)
        return DiffResponse(changes=True, replaces=replaces, diffs=changed, detailed_diff=detailed)

    async def update(self, request: UpdateRequest) -> UpdateResponse:
        _, state = self._state(
            resource_type(request.urn), request.name, request.news, old=request.olds, preview=request.preview
        )
        return UpdateResponse(properties=state)

    async def read(self, request: ReadRequest) -> ReadResponse:
        if not request.properties:
            raise StandinError(
                f"the e2e AWS stand-in cannot read {resource_type(request.urn)} {request.resource_id!r}: "
                "it only knows the state of what it created (no import, no .get())"
            )
        return ReadResponse(
            resource_id=request.resource_id,
            properties=request.properties,
            inputs=request.inputs,
        )

    async def delete(self, request: DeleteRequest) -> None:
        return None

    async def invoke(self, request: InvokeRequest) -> InvokeResponse:
        try:
            answer, _ = self.mocks.call(MockCallArgs(request.tok, plain_map(request.args), ""))
        except NotImplementedError as exc:
            raise StandinError(
                f"the e2e AWS stand-in (a test double, not AWS) has no answer for invoke {request.tok}; "
                "answers come from PlatformMocks.call in infra/plan/mocks.py"
            ) from exc
        return InvokeResponse(return_value={k: to_property(v) for k, v in answer.items()})

    def _state(
        self,
        typ: str,
        name: str,
        inputs: Mapping[str, PropertyValue],
        *,
        old: Mapping[str, PropertyValue] | None,
        preview: bool,
    ) -> tuple[str, dict[str, PropertyValue]]:
        """The id and state for `inputs`: the inputs as given, plus what the mocks compute.

        Given inputs win over computed values (a map input is merged with the computed
        keys it lacks), secrets stay secret, and a computed value that contains a secret
        input's text is secret too. Creating in a preview leaves computed values unknown;
        a computed value derived from an unknown input is unknown.
        """
        resource_id, computed = self.mocks.new_resource(
            MockResourceArgs(typ, name, plain_map(inputs), custom=True)
        )
        if typ == EKS_CLUSTER:
            if old is not None and "endpoint" in old and "certificateAuthority" in old:
                # An EKS cluster keeps its endpoint and CA for its whole life.
                computed.update(
                    endpoint=plain(old["endpoint"]), certificateAuthority=plain(old["certificateAuthority"])
                )
            elif not preview:
                computed.update(local_api_server())
        secrets = frozenset(s for value in inputs.values() for s in _secret_strings(value))
        unknown = preview and old is None
        state = {k: _overlay(inputs.get(k), v, unknown, secrets) for k, v in computed.items()}
        for key, value in inputs.items():
            state.setdefault(key, value)
        return str(resource_id), state

    def _replaces(self, request: DiffRequest, changed: list[str], new_id: str) -> list[str]:
        """The changed inputs AWS can apply only by replacing the resource."""
        typ = resource_type(request.urn)
        replaces = {k for k in changed if k in FORCE_NEW.get(typ, frozenset())}
        if new_id != request.resource_id and not _contains_unknown(new_id):
            # The new inputs name another physical resource: find which change does.
            culprits = set()
            for key in changed:
                reverted = dict(request.new_inputs)
                if key in request.old_state:
                    reverted[key] = request.old_state[key]
                else:
                    reverted.pop(key, None)
                reverted_id, _ = self.mocks.new_resource(
                    MockResourceArgs(typ, request.name, plain_map(reverted), custom=True)
                )
                if reverted_id == request.resource_id:
                    culprits.add(key)
            replaces |= culprits or set(changed)
        return sorted(replaces)


def _overlay(
    given: PropertyValue | None, computed: Any, unknown: bool, secrets: frozenset[str]
) -> PropertyValue:
    """`given` (an input) with `computed` filling in what it lacks."""
    if given is not None:
        if isinstance(given.value, Mapping) and isinstance(computed, Mapping):
            merged = {k: _overlay(given.value.get(k), v, unknown, secrets) for k, v in computed.items()}
            merged.update({k: v for k, v in given.value.items() if k not in merged})
            return given.with_value(merged)
        return given
    if unknown or _contains_unknown(computed):
        return PropertyValue(UNKNOWN)
    value = to_property(computed)
    return value.with_secret(True) if _mentions(computed, secrets) else value


def main() -> None:
    """Serve the stand-in as the engine's `aws` resource plugin (prints the port, then serves)."""
    server.main(sys.argv[1:], plugin_version(), AwsStandin())


if __name__ == "__main__":
    main()
