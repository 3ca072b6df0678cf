"""Pulumi's mock engine, made to record every registration and to answer like AWS would.

`RecordingMonitor` keeps each RegisterResource request with its options
(parent, dependencies, provider, protect, ignoreChanges, ...), which Pulumi's
own MockMonitor throws away. `PlatformMocks` fills in the computed outputs a
real deploy returns (ids, ARNs, endpoints, certificate data), deterministically,
so dependent code runs here as it will against AWS and two plans of the same
config are byte-for-byte equal.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime import mocks, rpc
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs

from infra.plan.secrets import REDACTED

DEFAULT_ACCOUNT = "123456789012"
S3_PREFIX_LIST_CIDRS = (
    "3.5.0.0/19",
    "16.15.192.0/18",
    "16.182.0.0/16",
    "18.34.0.0/19",
    "18.34.232.0/21",
    "52.216.0.0/15",
    "54.231.0.0/16",
)
"""The entries of com.amazonaws.us-east-1.s3 (the S3 gateway endpoint's prefix list) when written."""


@dataclass
class Registration:
    """One resource as the engine would receive it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str | None
    dependencies: list[str]
    provider: str | None
    protect: bool
    ignore_changes: list[str]
    retain_on_delete: bool
    custom_timeouts: dict[str, str]
    props: dict[str, Any]
    """Inputs as sent; secret values still wrapped (see infra.plan.secrets)."""
    state: dict[str, Any] = field(default_factory=dict)
    """Inputs plus what the (mock) provider computed: ids, ARNs, autonamed names."""
    outputs: dict[str, Any] = field(default_factory=dict)
    """What a component registered as its outputs."""
    delete_before_replace: bool = False
    replace_on_changes: list[str] = field(default_factory=list)
    """Inputs whose change replaces the resource instead of updating it."""
    alias_names: list[str] = field(default_factory=list)
    """Former names (aliases) the resource answers to, so renaming it moves its state."""

    @property
    def is_provider(self) -> bool:
        return self.type.startswith("pulumi:providers:")


class RecordingMonitor(mocks.MockMonitor):
    def __init__(self, mock: mocks.Mocks) -> None:
        super().__init__(mock)
        self.registrations: dict[str, Registration] = {}
        self.stack_urn: str | None = None
        self.stack_outputs: dict[str, Any] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        urn = self.make_urn(request.parent, request.type, request.name)
        if urn in self.registrations:
            # The engine refuses a program that registers one URN twice; so does the plan.
            raise ValueError(f"duplicate resource URN {urn}")
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = urn
        else:
            timeouts = request.customTimeouts
            self.registrations[urn] = Registration(
                urn=urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                parent=request.parent or None,
                dependencies=sorted(set(request.dependencies)),
                provider=request.provider or None,
                protect=bool(request.protect),
                ignore_changes=list(request.ignoreChanges),
                retain_on_delete=bool(request.retainOnDelete),
                custom_timeouts={
                    k: v
                    for k, v in (
                        ("create", timeouts.create),
                        ("update", timeouts.update),
                        ("delete", timeouts.delete),
                    )
                    if v
                },
                props=rpc.deserialize_properties(request.object, keep_internal=False),
                delete_before_replace=bool(request.deleteBeforeReplace),
                replace_on_changes=list(request.replaceOnChanges),
                alias_names=[
                    *(a.spec.name for a in request.aliases if a.HasField("spec") and a.spec.name),
                    *(u.rsplit("::", 1)[-1] for u in request.aliasURNs),
                ],
            )
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if urn in self.registrations and urn in self.resources:
            self.registrations[urn].state = self.resources[urn].state
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        outputs = rpc.deserialize_properties(request.outputs, keep_internal=False)
        if request.urn in self.registrations:
            self.registrations[request.urn].outputs = outputs
        elif request.urn == self.stack_urn:
            self.stack_outputs = outputs
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


def _hex(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def _fake_ca(seed: str) -> str:
    """Base64 of a PEM-shaped certificate: what EKS returns as certificateAuthority.data."""
    body = base64.b64encode(hashlib.sha512(seed.encode()).digest() * 4).decode()
    pem = f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"
    return base64.b64encode(pem.encode()).decode()


class PlatformMocks(mocks.Mocks):
    """Answers resource registrations and invokes like AWS and Kubernetes would."""

    def __init__(
        self,
        region: str = "us-east-1",
        account: str = DEFAULT_ACCOUNT,
        stack_references: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.region = region
        self.account = account
        self.stack_references = stack_references or {}
        """Outputs of the stacks a program reads with StackReference, by stack name."""

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        token = args.token
        if token == "aws:index/getPartition:getPartition":
            partition, suffix = (
                ("aws-cn", "amazonaws.com.cn")
                if self.region.startswith("cn-")
                else ("aws-us-gov", "amazonaws.com")
                if self.region.startswith("us-gov-")
                else ("aws", "amazonaws.com")
            )
            return {"partition": partition, "dnsSuffix": suffix, "id": partition}, []
        if token == "aws:index/getRegion:getRegion":
            return {"region": self.region, "name": self.region, "id": self.region}, []
        if token == "aws:ec2/getSubnet:getSubnet":
            # An adopted subnet: a /20 of 10.99.0.0/16 derived from its id.
            third = int(_hex(str(args.args.get("id")), 2), 16) % 16 * 16
            return {"id": args.args.get("id"), "cidrBlock": f"10.99.{third}.0/20"}, []
        if token == "aws:ec2/getPrefixList:getPrefixList":
            # An AWS-managed service prefix list; every region gets us-east-1's S3 ranges.
            name = str(args.args.get("name") or "com.amazonaws.us-east-1.s3")
            return {"id": f"pl-{_hex(name, 8)}", "prefixListId": f"pl-{_hex(name, 8)}", "name": name,
                    "cidrBlocks": list(S3_PREFIX_LIST_CIDRS)}, []  # fmt: skip
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": self.account,
                "arn": f"arn:aws:iam::{self.account}:role/deployer",
                "userId": "AROAEXAMPLE",
                "id": self.account,
            }, []
        raise NotImplementedError(f"the offline plan has no answer for invoke {token}")

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ == "pulumi:pulumi:StackReference":
            return self._stack_reference(str(args.inputs.get("name", args.name)))
        seed = f"{args.typ}::{args.name}"
        state = dict(args.inputs)
        resource_id, computed = self._computed(args.typ, args.name, seed, state)
        state.update(computed)
        return resource_id, state

    def _stack_reference(self, stack: str) -> tuple[str, dict[str, Any]]:
        if stack not in self.stack_references:
            raise NotImplementedError(f"the offline plan has no outputs of stack {stack}")
        outputs = self.stack_references[stack]
        secret = sorted(key for key, value in outputs.items() if value == REDACTED)
        return stack, {"name": stack, "outputs": outputs, "secretOutputNames": secret}

    def _arn(self, service: str, resource: str, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account}:{resource}"

    def _computed(self, typ: str, name: str, seed: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Resource id and the outputs AWS computes for each type the platform uses."""
        physical = inputs.get("name") or f"{name}-{_hex(seed, 7)}"
        short = _hex(seed, 17)
        if typ.startswith("pulumi:providers:"):
            return _hex(seed, 32), {}
        if typ.startswith("kubernetes:"):
            meta = inputs.get("metadata") or {}
            uid = _hex(seed, 32)
            return (
                f"{meta.get('namespace', '')}/{meta.get('name', name)}".lstrip("/"),
                {"metadata": {**meta, "uid": uid}} if meta else {"status": {"status": "deployed"}},
            )
        table: dict[str, tuple[str, dict[str, Any]]] = {
            "aws:ec2/vpc:Vpc": (
                f"vpc-{short}",
                {
                    "arn": self._arn("ec2", f"vpc/vpc-{short}"),
                    "defaultSecurityGroupId": f"sg-{_hex(seed + 'sg', 17)}",
                    "mainRouteTableId": f"rtb-{_hex(seed + 'rt', 17)}",
                },
            ),
            "aws:ec2/subnet:Subnet": (f"subnet-{short}", {"arn": self._arn("ec2", f"subnet/subnet-{short}")}),
            "aws:ec2/internetGateway:InternetGateway": (f"igw-{short}", {}),
            "aws:ec2/eip:Eip": (
                f"eipalloc-{short}",
                {"allocationId": f"eipalloc-{short}", "publicIp": "198.51.100.7"},
            ),
            "aws:ec2/natGateway:NatGateway": (f"nat-{short}", {}),
            "aws:ec2/routeTable:RouteTable": (f"rtb-{short}", {}),
            "aws:ec2/routeTableAssociation:RouteTableAssociation": (f"rtbassoc-{short}", {}),
            "aws:ec2/vpcEndpoint:VpcEndpoint": (f"vpce-{short}", {"prefixListId": f"pl-{_hex(seed, 8)}"}),
            "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": (f"sg-{short}", {}),
            "aws:ec2/securityGroup:SecurityGroup": (
                f"sg-{short}",
                {"arn": self._arn("ec2", f"security-group/sg-{short}")},
            ),
            "aws:ec2/flowLog:FlowLog": (f"fl-{short}", {}),
            "aws:ec2/launchTemplate:LaunchTemplate": (
                f"lt-{short}",
                {
                    "latestVersion": 1,
                    "defaultVersion": 1,
                    "arn": self._arn("ec2", f"launch-template/lt-{short}"),
                },
            ),
            "aws:iam/role:Role": (
                physical,
                {
                    "name": physical,
                    "arn": f"arn:aws:iam::{self.account}:role/{physical}",
                    "uniqueId": f"AROA{short.upper()}",
                },
            ),
            "aws:iam/policy:Policy": (
                f"arn:aws:iam::{self.account}:policy/{physical}",
                {"name": physical, "arn": f"arn:aws:iam::{self.account}:policy/{physical}"},
            ),
            "aws:kms/key:Key": (
                _uuid(seed),
                {"keyId": _uuid(seed), "arn": self._arn("kms", f"key/{_uuid(seed)}")},
            ),
            "aws:kms/alias:Alias": (physical, {"arn": self._arn("kms", physical)}),
            "aws:cloudwatch/logGroup:LogGroup": (
                physical,
                {"name": physical, "arn": self._arn("logs", f"log-group:{physical}")},
            ),
            "aws:eks/cluster:Cluster": (physical, self._eks_cluster(physical, seed, inputs)),
            # Karpenter's interruption queue and the EventBridge rules that feed it
            "aws:sqs/queue:Queue": (
                f"https://sqs.{self.region}.amazonaws.com/{self.account}/{physical}",
                {
                    "name": physical,
                    "arn": self._arn("sqs", physical),
                    "url": f"https://sqs.{self.region}.amazonaws.com/{self.account}/{physical}",
                },
            ),
            "aws:cloudwatch/eventRule:EventRule": (
                physical,
                {"name": physical, "arn": self._arn("events", f"rule/{physical}")},
            ),
            "aws:eks/nodeGroup:NodeGroup": (
                f"{inputs.get('clusterName')}:{physical}",
                {
                    "nodeGroupName": physical,
                    "arn": self._arn(
                        "eks", f"nodegroup/{inputs.get('clusterName')}/{physical}/{_uuid(seed)}"
                    ),
                    "status": "ACTIVE",
                    "resources": [{"autoscalingGroups": [{"name": f"eks-{physical}-{_uuid(seed)}"}]}],
                },
            ),
            "aws:eks/addon:Addon": (
                f"{inputs.get('clusterName')}:{inputs.get('addonName')}",
                {
                    "arn": self._arn(
                        "eks", f"addon/{inputs.get('clusterName')}/{inputs.get('addonName')}/{_uuid(seed)}"
                    )
                },
            ),
            "aws:s3/bucket:Bucket": (
                inputs.get("bucket") or physical.lower(),
                {
                    "bucket": inputs.get("bucket") or physical.lower(),
                    "arn": f"arn:aws:s3:::{inputs.get('bucket') or physical.lower()}",
                    "bucketRegionalDomainName": f"{physical.lower()}.s3.{self.region}.amazonaws.com",
                },
            ),
            "aws:efs/fileSystem:FileSystem": (
                f"fs-{short}",
                {
                    "arn": self._arn("elasticfilesystem", f"file-system/fs-{short}"),
                    "dnsName": f"fs-{short}.efs.{self.region}.amazonaws.com",
                },
            ),
            "aws:efs/mountTarget:MountTarget": (f"fsmt-{short}", {"ipAddress": "10.0.0.10"}),
            "aws:eks/podIdentityAssociation:PodIdentityAssociation": (
                f"a-{short}",
                {
                    "associationId": f"a-{short}",
                    "associationArn": self._arn("eks", f"podidentityassociation/{_uuid(seed)}"),
                },
            ),
            "aws:eks/accessEntry:AccessEntry": (
                f"{inputs.get('clusterName')}:{inputs.get('principalArn')}",
                {
                    "accessEntryArn": self._arn(
                        "eks", f"access-entry/{inputs.get('clusterName')}/{_uuid(seed)}"
                    )
                },
            ),
        }
        if typ in table:
            return table[typ]
        return f"{physical}-id", {"arn": self._arn(typ.split(":")[1].split("/")[0], physical)}

    def _eks_cluster(self, physical: str, seed: str, inputs: dict[str, Any]) -> dict[str, Any]:
        endpoint_id = _hex(seed, 32).upper()
        vpc_config = dict(inputs.get("vpcConfig") or {})
        vpc_config.update(
            clusterSecurityGroupId=f"sg-{_hex(seed + 'cluster-sg', 17)}",
            vpcId=f"vpc-{_hex(seed + 'vpc', 17)}",
        )
        return {
            "name": physical,
            "arn": self._arn("eks", f"cluster/{physical}"),
            "endpoint": f"https://{endpoint_id}.gr7.{self.region}.eks.amazonaws.com",
            "certificateAuthority": {"data": _fake_ca(seed)},
            "identities": [
                {"oidcs": [{"issuer": f"https://oidc.eks.{self.region}.amazonaws.com/id/{endpoint_id}"}]}
            ],
            "platformVersion": "eks.1",
            "status": "ACTIVE",
            "vpcConfig": vpc_config,
        }


def _uuid(seed: str) -> str:
    h = _hex(seed + "uuid", 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
