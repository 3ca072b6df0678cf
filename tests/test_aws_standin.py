"""The e2e's AWS stand-in provider and `aws eks get-token` stand-in (TEST DOUBLES, e2e only).

These drive the provider's methods as the engine would (PropertyValue in and
out), and the launchers as processes: what the e2e relies on to run the graph
under the real engine. None of it says anything about AWS.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.provider.experimental.property_value import PropertyValue
from pulumi.provider.experimental.provider import (
    CheckRequest,
    ConfigureRequest,
    CreateRequest,
    DiffRequest,
    InvokeRequest,
    PropertyDiffKind,
    ReadRequest,
    UpdateRequest,
)
from pulumi.runtime import proto
from pulumi.runtime.mocks import MockResourceArgs
from pulumi.runtime.proto import provider_pb2_grpc
from pulumi.runtime.rpc import UNKNOWN

from e2e.aws_standin.provider import (
    CA_ENV,
    ENDPOINT_ENV,
    AwsStandin,
    StandinError,
    plain,
    plugin_version,
    to_property,
)
from infra.plan.mocks import PlatformMocks

REPO = Path(__file__).resolve().parents[1]
STANDIN = REPO / "e2e" / "aws_standin"
ACCOUNT = "111111111111"
REGION = "eu-west-1"
VPC = "aws:ec2/vpc:Vpc"
EKS = "aws:eks/cluster:Cluster"
PEM = b"-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one provider method to completion, as asyncio.run would.

    On a loop of its own that is never made the thread's current loop: asyncio.run
    leaves the main thread with none, and the Pulumi mocks other tests use need one.
    """
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def urn(typ: str, name: str) -> str:
    return f"urn:pulumi:e2e::llm-platform::pulumi:pulumi:Stack${typ}::{name}"


def props(**values: Any) -> dict[str, PropertyValue]:
    return {k: to_property(v) for k, v in values.items()}


@pytest.fixture
def standin() -> AwsStandin:
    provider = AwsStandin()
    run(
        provider.configure(
            ConfigureRequest(
                variables={},
                args=props(region=REGION, allowedAccountIds=[ACCOUNT], skipCredentialsValidation=False),
                accept_secrets=True,
                accept_resources=True,
            )
        )
    )
    return provider


@pytest.fixture
def api_server(monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    endpoint, ca_data = "https://127.0.0.1:6443", base64.b64encode(PEM).decode()
    monkeypatch.setenv(ENDPOINT_ENV, endpoint)
    monkeypatch.setenv(CA_ENV, ca_data)
    return endpoint, ca_data


def create(
    provider: AwsStandin, typ: str, name: str, inputs: dict[str, PropertyValue], preview: bool = False
) -> tuple[str | None, dict[str, PropertyValue]]:
    response = run(provider.create(CreateRequest(urn(typ, name), inputs, timeout=0, preview=preview)))
    return response.resource_id, response.properties


def diff(
    provider: AwsStandin,
    typ: str,
    name: str,
    rid: str,
    old: dict[str, PropertyValue],
    new: dict[str, PropertyValue],
) -> Any:
    return run(provider.diff(DiffRequest(urn(typ, name), rid, old, new, ignore_changes=[])))


def test_configure_records_region_and_first_allowed_account(standin: AwsStandin) -> None:
    assert (standin.region, standin.account) == (REGION, ACCOUNT)
    # Provider config arrives JSON-encoded in `variables` too; the region may come only from there.
    other = AwsStandin()
    response = run(
        other.configure(
            ConfigureRequest(
                variables={
                    "aws:config:region": "ap-south-1",
                    "aws:config:allowedAccountIds": '["222222222222"]',
                },
                args={},
                accept_secrets=True,
                accept_resources=True,
            )
        )
    )
    assert (other.region, other.account) == ("ap-south-1", "222222222222")
    assert response.accept_secrets and response.supports_preview


def test_create_vpc_gives_a_vpc_id_and_its_arn(standin: AwsStandin) -> None:
    rid, state = create(standin, VPC, "net", props(cidrBlock="10.40.0.0/16", tags={"stack": "e2e"}))
    assert rid is not None and rid.startswith("vpc-")
    assert plain(state["arn"]) == f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{rid}"
    assert plain(state["defaultSecurityGroupId"]).startswith("sg-")
    assert plain(state["cidrBlock"]) == "10.40.0.0/16"
    assert plain(state["tags"]) == {"stack": "e2e"}


def test_created_outputs_are_the_offline_plans(standin: AwsStandin) -> None:
    """One table for both: the stand-in answers exactly what PlatformMocks gives the offline plan."""
    inputs = {"assumeRolePolicy": "{}", "tags": {"stack": "e2e"}}
    rid, state = create(standin, "aws:iam/role:Role", "nodes", props(**inputs))
    expected_id, expected = PlatformMocks(region=REGION, account=ACCOUNT).new_resource(
        MockResourceArgs("aws:iam/role:Role", "nodes", inputs, custom=True)
    )
    assert rid == expected_id
    assert {k: plain(v) for k, v in state.items()} == expected


def test_eks_cluster_points_at_the_local_api_server(standin: AwsStandin, api_server: tuple[str, str]) -> None:
    endpoint, ca_data = api_server
    rid, state = create(
        standin,
        EKS,
        "llm-platform-e2e",
        props(
            name="llm-platform-e2e", roleArn="arn:aws:iam::1:role/x", vpcConfig={"subnetIds": ["subnet-a"]}
        ),
    )
    assert rid == "llm-platform-e2e"
    assert plain(state["endpoint"]) == endpoint
    assert plain(state["certificateAuthority"]) == {"data": ca_data}
    vpc_config = plain(state["vpcConfig"])
    assert vpc_config["subnetIds"] == ["subnet-a"]
    assert vpc_config["clusterSecurityGroupId"].startswith("sg-")
    assert plain(state["arn"]) == f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/llm-platform-e2e"


def test_eks_cluster_without_the_local_api_server_fails_naming_the_variables(
    standin: AwsStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENDPOINT_ENV, raising=False)
    monkeypatch.delenv(CA_ENV, raising=False)
    with pytest.raises(StandinError, match=f"{ENDPOINT_ENV} and {CA_ENV}"):
        create(standin, EKS, "c", props(name="c", roleArn="r", vpcConfig={"subnetIds": []}))
    monkeypatch.setenv(ENDPOINT_ENV, "https://127.0.0.1:6443")
    monkeypatch.setenv(CA_ENV, base64.b64encode(b"not a certificate").decode())
    with pytest.raises(StandinError, match="PEM CA"):
        create(standin, EKS, "c", props(name="c", roleArn="r", vpcConfig={"subnetIds": []}))


def test_preview_create_leaves_what_aws_computes_unknown(
    standin: AwsStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENDPOINT_ENV, raising=False)
    inputs = props(name="c", roleArn="r", vpcConfig={"subnetIds": ["subnet-a"]})
    inputs["roleArn"] = PropertyValue(UNKNOWN)
    rid, state = create(standin, EKS, "c", inputs, preview=True)
    assert not rid
    assert plain(state["endpoint"]) == UNKNOWN
    assert plain(state["arn"]) == UNKNOWN
    assert plain(state["vpcConfig"]) == {
        "subnetIds": ["subnet-a"],
        "clusterSecurityGroupId": UNKNOWN,
        "vpcId": UNKNOWN,
    }
    assert plain(state["name"]) == "c"
    assert plain(state["roleArn"]) == UNKNOWN
    # What the engine gets must marshal (an unknown is Pulumi's sentinel string).
    PropertyValue.marshal_map(state)


def test_check_returns_inputs_unchanged_even_unknown_and_secret(standin: AwsStandin) -> None:
    news = props(cidrBlock="10.0.0.0/16")
    news["tags"] = PropertyValue({"team": PropertyValue("ml", is_secret=True)})
    news["ipv4IpamPoolId"] = PropertyValue.computed()
    response = run(standin.check(CheckRequest(urn(VPC, "net"), {}, news, b"")))
    assert response.inputs == news
    assert not response.failures


def test_secrets_stay_secret_in_outputs(standin: AwsStandin) -> None:
    inputs = props(assumeRolePolicy="{}")
    inputs["name"] = PropertyValue("secret-role-name", is_secret=True)
    _, state = create(standin, "aws:iam/role:Role", "r", inputs)
    assert state["name"].is_secret
    # The ARN spells out the secret name, so it is secret too; the unique id does not.
    assert state["arn"].is_secret and plain(state["arn"]).endswith("role/secret-role-name")
    assert not state["uniqueId"].is_secret
    marshalled = PropertyValue.marshal_map(state)
    assert "secret-role-name" in str(marshalled.fields["arn"])
    assert PropertyValue.unmarshal_map(marshalled)["arn"].is_secret


def test_diff_of_equal_inputs_has_no_changes(standin: AwsStandin, api_server: tuple[str, str]) -> None:
    for typ, name, inputs in [
        (VPC, "net", props(cidrBlock="10.40.0.0/16", tags={"a": "b"})),
        (EKS, "c", props(name="c", roleArn="r", vpcConfig={"subnetIds": ["subnet-a"]})),
        ("aws:eks/nodeGroup:NodeGroup", "system", props(clusterName="c", scalingConfig={"minSize": 2})),
    ]:
        rid, state = create(standin, typ, name, inputs)
        assert rid is not None
        response = diff(standin, typ, name, rid, state, inputs)
        assert response.changes is False, (typ, response.diffs)


def test_diff_of_a_changed_input_names_it_and_updates_in_place(standin: AwsStandin) -> None:
    rid, state = create(standin, VPC, "net", props(cidrBlock="10.40.0.0/16", tags={"a": "b"}))
    assert rid is not None
    response = diff(standin, VPC, "net", rid, state, props(cidrBlock="10.40.0.0/16", tags={"a": "c"}))
    assert response.changes is True
    assert response.diffs == ["tags"]
    assert response.replaces == []
    assert response.detailed_diff["tags"].kind is PropertyDiffKind.UPDATE

    added = diff(
        standin,
        VPC,
        "net",
        rid,
        state,
        props(cidrBlock="10.40.0.0/16", tags={"a": "b"}, enableDnsSupport=True),
    )
    assert added.diffs == ["enableDnsSupport"]
    assert added.detailed_diff["enableDnsSupport"].kind is PropertyDiffKind.ADD

    removed = diff(standin, VPC, "net", rid, state, props(cidrBlock="10.40.0.0/16"))
    assert removed.diffs == ["tags"]
    assert removed.detailed_diff["tags"].kind is PropertyDiffKind.DELETE


def test_diff_replaces_only_where_aws_must(standin: AwsStandin) -> None:
    rid, state = create(standin, VPC, "net", props(cidrBlock="10.40.0.0/16"))
    assert rid is not None
    response = diff(standin, VPC, "net", rid, state, props(cidrBlock="10.41.0.0/16"))
    assert response.replaces == ["cidrBlock"]
    assert response.detailed_diff["cidrBlock"].kind is PropertyDiffKind.UPDATE_REPLACE

    # A new name is another role: the id changes, so the diff replaces; the tag change does not.
    role = "aws:iam/role:Role"
    rid, state = create(standin, role, "r", props(name="old-name", assumeRolePolicy="{}"))
    assert rid == "old-name"
    response = diff(
        standin, role, "r", rid, state, props(name="new-name", assumeRolePolicy="{}", tags={"a": "b"})
    )
    assert response.diffs == ["name", "tags"]
    assert response.replaces == ["name"]


def test_diff_with_unknown_inputs_reports_a_change_without_failing(standin: AwsStandin) -> None:
    rid, state = create(standin, "aws:eks/addon:Addon", "cni", props(clusterName="c", addonName="vpc-cni"))
    assert rid == "c:vpc-cni"
    news = props(clusterName="c", addonName="vpc-cni")
    news["addonVersion"] = PropertyValue(UNKNOWN)
    news["podIdentityAssociations"] = PropertyValue([PropertyValue({"roleArn": PropertyValue.computed()})])
    response = diff(standin, "aws:eks/addon:Addon", "cni", rid, state, news)
    assert response.changes is True
    assert response.diffs == ["addonVersion", "podIdentityAssociations"]
    assert response.replaces == []


def test_update_takes_new_inputs_and_keeps_computed_outputs(
    standin: AwsStandin, api_server: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rid, state = create(
        standin, EKS, "c", props(name="c", roleArn="r", vpcConfig={"subnetIds": ["subnet-a"]})
    )
    assert rid is not None
    # The cluster keeps its endpoint even if the environment no longer names it.
    monkeypatch.delenv(ENDPOINT_ENV)
    news = props(name="c", roleArn="r", vpcConfig={"subnetIds": ["subnet-a"]}, version="1.33")
    response = run(standin.update(UpdateRequest(urn(EKS, "c"), rid, state, news, 0, [], preview=False)))
    updated = response.properties
    assert plain(updated["version"]) == "1.33"
    for key in ("arn", "endpoint", "certificateAuthority", "vpcConfig", "identities"):
        assert updated[key] == state[key], key


def test_read_returns_the_stored_state(standin: AwsStandin) -> None:
    rid, state = create(standin, VPC, "net", props(cidrBlock="10.40.0.0/16"))
    assert rid is not None
    inputs = props(cidrBlock="10.40.0.0/16")
    response = run(standin.read(ReadRequest(urn(VPC, "net"), rid, state, inputs)))
    assert (response.resource_id, response.properties, response.inputs) == (rid, state, inputs)
    with pytest.raises(StandinError, match="cannot read"):
        run(standin.read(ReadRequest(urn(VPC, "adopted"), "vpc-123", {}, {})))


def test_invokes_answer_from_the_offline_plans_table(standin: AwsStandin) -> None:
    def invoke(tok: str, **args: Any) -> dict[str, Any]:
        response = run(standin.invoke(InvokeRequest(tok, props(**args))))
        assert response.return_value is not None
        return {k: plain(v) for k, v in response.return_value.items()}

    identity = invoke("aws:index/getCallerIdentity:getCallerIdentity")
    assert identity["accountId"] == ACCOUNT
    assert identity["arn"].startswith(f"arn:aws:iam::{ACCOUNT}:")
    assert invoke("aws:index/getRegion:getRegion")["region"] == REGION
    assert invoke("aws:index/getPartition:getPartition")["partition"] == "aws"
    subnet = invoke("aws:ec2/getSubnet:getSubnet", id="subnet-0abc")
    assert subnet["id"] == "subnet-0abc" and subnet["cidrBlock"].startswith("10.99.")


def test_an_unknown_invoke_fails_naming_its_token(standin: AwsStandin) -> None:
    with pytest.raises(StandinError, match="aws:ec2/getAmi:getAmi"):
        run(standin.invoke(InvokeRequest("aws:ec2/getAmi:getAmi", {})))


def test_diff_config_never_replaces_the_provider(standin: AwsStandin) -> None:
    response = run(
        standin.diff_config(
            DiffRequest(urn("pulumi:providers:aws", "aws"), "id", props(region="a"), props(region="b"), [])
        )
    )
    assert response.replaces == [] and response.changes is None


def test_plugin_version_is_the_pulumi_aws_sdks() -> None:
    assert plugin_version() == version("pulumi_aws")


@pytest.fixture
def launched_provider(tmp_path: Path) -> Iterator[str]:
    """The `pulumi-resource-aws` launcher, started through a symlink as the engine would from PATH."""
    link = tmp_path / "bin" / "pulumi-resource-aws"
    link.parent.mkdir()
    link.symlink_to(STANDIN / "pulumi-resource-aws")
    process = subprocess.Popen(
        [str(link), "127.0.0.1:1"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        assert port.isdigit(), process.stderr.read() if process.stderr else port
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_launcher_serves_the_plugin_protocol(launched_provider: str) -> None:
    with grpc.insecure_channel(launched_provider) as channel:
        stub = provider_pb2_grpc.ResourceProviderStub(channel)
        info = stub.GetPluginInfo(empty_pb2.Empty(), timeout=30)
        assert info.version == version("pulumi_aws")
        answer = stub.Invoke(proto.InvokeRequest(tok="aws:index/getPartition:getPartition"), timeout=30)
        assert PropertyValue.unmarshal_map(getattr(answer, "return"))["partition"] == PropertyValue("aws")
        with pytest.raises(grpc.RpcError, match="aws:ec2/getAmi:getAmi"):
            stub.Invoke(proto.InvokeRequest(tok="aws:ec2/getAmi:getAmi"), timeout=30)


def aws_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(STANDIN / "aws"), *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )


def test_aws_get_token_prints_the_api_servers_token_as_an_exec_credential(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("e2e-token-0123\n")
    done = aws_cli(
        *(
            "eks",
            "get-token",
            "--cluster-name",
            "llm-platform-e2e",
            "--region",
            "us-east-1",
            "--output",
            "json",
        ),
        env={"LLM_PLATFORM_E2E_KUBE_TOKEN_FILE": str(token_file)},
    )
    assert done.returncode == 0, done.stderr
    credential = json.loads(done.stdout)
    assert credential["kind"] == "ExecCredential"
    assert credential["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert credential["status"]["token"] == "e2e-token-0123"
    expires = datetime.strptime(credential["status"]["expirationTimestamp"], "%Y-%m-%dT%H:%M:%SZ")
    assert expires.replace(tzinfo=UTC) > datetime.now(UTC)


def test_aws_stand_in_refuses_every_other_command(tmp_path: Path) -> None:
    done = aws_cli("s3", "ls", env={})
    assert done.returncode == 2
    assert "e2e stand-in" in done.stderr
    missing = aws_cli("eks", "get-token", "--cluster-name", "x", env={"LLM_PLATFORM_E2E_KUBE_TOKEN_FILE": ""})
    assert missing.returncode == 1 and "LLM_PLATFORM_E2E_KUBE_TOKEN_FILE" in missing.stderr
