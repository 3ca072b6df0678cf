"""No stack file, however broken, makes the program crash: it is valid, or every problem is one
`error: <key.path>: <what is wrong>` line (docs/config.md, the offline plan's contract).

The fuzz mutates both committed stacks the ways people break stack files (keys deleted, values
of the wrong kind, values copied from elsewhere, models and canaries duplicated, numbers out of
range) and runs the loader and the checks in-process; a handful of cases go through the CLI.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.config import NAMESPACE, ConfigError, load_stack_config
from infra.plan.mocks import PlatformMocks
from infra.plan.run import run_program
from infra.plan.stackfile import read_stack
from infra.program import main as program
from tests.conftest import REPO, RunPulumi, plan_cli

STACKS = ("dev", "prod")
_FILES = {stack: read_stack(REPO, stack) for stack in STACKS}
BASE = {stack: _FILES[stack].sections(NAMESPACE)[0] for stack in STACKS}
SECRETS = {stack: _FILES[stack].sections(NAMESPACE)[1] for stack in STACKS}

Path_ = tuple[str | int, ...]


def _paths(node: Any, prefix: Path_ = ()) -> list[Path_]:
    found: list[Path_] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((*prefix, key))
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.append((*prefix, i))
            found += _paths(value, (*prefix, i))
    return found


def _get(node: Any, path: Path_) -> Any:
    for part in path:
        node = node[part]
    return node


def _parent(node: Any, path: Path_) -> Any:
    return _get(node, path[:-1])


# Values of every kind a YAML file can hold, and the near-misses people type.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.sampled_from([0, -1, 1, 255, 256, 2**31, 10**12]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "latest",
            "[secret]",
            "kube-system",
            "default",
            "monitoring",
            "Europe/Atlantis",
            "us-west-2",
            "us-east-1a",
            "0.0.0.0/0",
            "10.0.0.0/8",
            "arn:aws:iam::999999999999:role/x",
            "arn:aws:acm:eu-west-1:222222222222:certificate/5c1d2e3f",
            "v0.33.0",
            "0e9e39f249a16976918f6564b8830bc894c89659",
            "1e400",
            "NaN",
            "3Gi",
            "-1",
            "a" * 300,
        ]
    ),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=8), SCALARS, max_size=3),
    st.just({"secure": "v1:AAAA"}),
)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    stack = draw(st.sampled_from(STACKS))
    sections = copy.deepcopy(BASE[stack])
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(sections)
        op = draw(
            st.sampled_from(
                ["delete", "replace", "copy", "scale", "duplicate-model", "duplicate-canary", "rename"]
            )
        )
        if op in ("duplicate-model", "duplicate-canary", "rename") and not isinstance(
            sections.get("models"), dict
        ):
            op = "replace"
        if not paths:
            sections[draw(st.text(max_size=10))] = copy.deepcopy(draw(VALUES))
            continue
        if op == "delete":
            path = draw(st.sampled_from(paths))
            parent = _parent(sections, path)
            del parent[path[-1]]
        elif op == "replace":
            path = draw(st.sampled_from(paths))
            _parent(sections, path)[path[-1]] = copy.deepcopy(draw(VALUES))  # st.just shares its value
        elif op == "copy":  # a value of another key, of a plausible but wrong kind
            source, target = draw(st.sampled_from(paths)), draw(st.sampled_from(paths))
            if target[: len(source)] != source:
                _parent(sections, target)[target[-1]] = copy.deepcopy(_get(sections, source))
        elif op == "scale":
            numbers = [p for p in paths if type(_get(sections, p)) in (int, float)]
            if numbers:
                path = draw(st.sampled_from(numbers))
                factor = draw(st.sampled_from([0, -1, 2, 10, 1000, 0.5]))
                _parent(sections, path)[path[-1]] = _get(sections, path) * factor
        else:
            models = sections["models"]
            names = [n for n in models if isinstance(n, str)]
            if not names:
                continue
            name = draw(st.sampled_from(sorted(names)))
            if op == "duplicate-model":
                new = draw(st.sampled_from([f"{name}-canary", f"{name}-2", name.upper(), "kube-system", "x"]))
                models[new] = copy.deepcopy(models[name])
            elif op == "rename":
                new = draw(st.sampled_from(["default", "kube-system", "a" * 30, "Bad_Name", "llm-platform"]))
                models[new] = models.pop(name)
            else:  # a canary on every model, copied from one that has it or made up
                canary = next(
                    (m["canary"] for m in models.values() if isinstance(m, dict) and "canary" in m),
                    None,
                )
                model = models[name]
                if isinstance(model, dict):
                    source = model.get("source")
                    revision = None
                    if isinstance(source, dict):
                        for kind in source.values():
                            if isinstance(kind, dict):
                                revision = kind.get("revision")
                    model["canary"] = copy.deepcopy(canary) or {
                        "weight": 10,
                        "imageTag": "v0.33.1",
                        **({"revision": revision} if revision is not None else {}),
                    }
    return stack, sections


def _check(stack: str, sections: dict[str, Any]) -> None:
    try:
        load_stack_config(sections, SECRETS[stack], project_dir=REPO)
    except ConfigError as exc:
        assert exc.problems, "a ConfigError names at least one problem"
        for problem in exc.problems:
            line = str(problem)
            assert line.startswith("error: ") and "\n" not in line, line
            assert problem.path, line


@settings(
    max_examples=500,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated())
def test_no_mutation_of_a_stack_file_crashes_the_checks(case: tuple[str, dict[str, Any]]) -> None:
    _check(*case)


@settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated())
def test_every_mutation_the_checks_accept_runs_as_a_program(case: tuple[str, dict[str, Any]]) -> None:
    """Valid is a promise: the program runs (a duplicate URN or a KeyError is a traceback too)."""
    stack, sections = case
    try:
        load_stack_config(sections, SECRETS[stack], project_dir=REPO)
    except ConfigError:
        return
    config = {f"{NAMESPACE}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in sections.items()}
    secret_keys = frozenset(f"{NAMESPACE}:{p.split('.')[0]}" for p in SECRETS[stack])
    run_program(
        program,
        project="llm-platform",
        stack=stack,
        config=config,
        secret_keys=secret_keys,
        mock=PlatformMocks(),
    )


# --- cases found by the fuzz, and the secret rule, pinned by name --------------------------------


def _prod(**changes: Any) -> dict[str, Any]:
    sections = copy.deepcopy(BASE["prod"])
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("/")
        node = sections
        for key in parents:
            node = node[key]
        node[leaf] = value
    return sections


def test_a_plain_api_key_next_to_secure_ones_is_refused() -> None:
    sections = _prod(**{"models/llama-8b/apiKey": "sk-plain-text"})
    with pytest.raises(ConfigError) as caught:
        load_stack_config(sections, SECRETS["prod"] - {"models.llama-8b.apiKey"})
    assert [str(p) for p in caught.value.problems] == [
        "error: models.llama-8b.apiKey: is stored in plain text; set it with "
        "`pulumi config set --secret --path 'llm-platform:models.llama-8b.apiKey' <value>`"
    ]


def test_a_value_of_no_kind_the_union_takes_is_named() -> None:
    """`architecture: null` failed both branches of `str | ArchitectureConfig` with a type mismatch,
    which the loader drops as noise: a ConfigError with no problem at all."""
    sections = copy.deepcopy(BASE["dev"])
    sections["models"]["qwen-7b"]["architecture"] = None
    with pytest.raises(ConfigError) as caught:
        load_stack_config(sections, SECRETS["dev"])
    assert [str(p) for p in caught.value.problems] == [
        "error: models.qwen-7b.architecture: has the wrong kind of value; expected a string or an object of keys"
    ]


def test_a_key_holding_a_newline_stays_on_one_line() -> None:
    sections = copy.deepcopy(BASE["dev"])
    sections["aws"]["\n"] = 1
    with pytest.raises(ConfigError) as caught:
        load_stack_config(sections, SECRETS["dev"])
    assert [str(p) for p in caught.value.problems] == [
        'error: aws."\\n": unknown key; known keys here: region, allowedAccountIds, tags'
    ]
    sections = copy.deepcopy(BASE["dev"])
    sections["aws"]["tags"]["aws:x\n"] = "y"
    with pytest.raises(ConfigError) as caught:
        load_stack_config(sections, SECRETS["dev"])
    assert [str(p) for p in caught.value.problems] == [
        "error: aws.tags.aws:x\\n: tag keys starting with aws: are reserved for AWS"
    ]


# --- through the command line, as users and CI run it --------------------------------------------


def _stack_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "Pulumi.fuzz.yaml"
    path.write_text(text)
    return path


def _prod_text_with(old: str, new: str) -> str:
    text = (REPO / "Pulumi.prod.yaml").read_text()
    assert text.count(old) == 1, old
    return text.replace(old, new)


CLI_CASES = [
    pytest.param(
        _prod_text_with(
            "      apiKey:\n        secure: v1:cGxhY2Vob2xkZXI=:bGxhbWEtOGItYXBpLWtleQ==\n",
            "      apiKey: sk-typed-in-plain-text\n",
        ),
        ["error: models.llama-8b.apiKey: is stored in plain text"],
        id="plain-api-key-beside-secure-ones",
    ),
    pytest.param(
        _prod_text_with(
            "      maxReplicas: 4   # 4 + 1", "      maxReplicas: 3\n      maxReplicas: 4   # 4 + 1"
        ),
        ["not valid YAML: line", "key 'maxReplicas' appears twice in one mapping"],
        id="duplicate-yaml-key",
    ),
    pytest.param(
        _prod_text_with(
            "  llm-platform:protect: true", "  llm-platform:models: 5\n  llm-platform:protect: true"
        ),
        ["not valid YAML: line"],  # the section now appears twice
        id="duplicate-section",
    ),
    pytest.param("config: [1, 2]\n", ["'config' must be a mapping"], id="config-not-a-mapping"),
    pytest.param("", ["must be a YAML mapping"], id="empty-file"),
    pytest.param("config:\n  llm-platform:gpuPools: {l4: {bad: [\n", ["not valid YAML"], id="broken-yaml"),
]


@pytest.mark.parametrize(("text", "expected"), CLI_CASES)
def test_broken_stack_files_exit_2_with_error_lines_only(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    out = tmp_path / "out"
    result = plan_cli(
        "plan", "--stack", "fuzz", "--config", str(_stack_file(tmp_path, text)), "--out", str(out)
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in expected:
        assert any(fragment in line for line in lines), (fragment, lines)
    assert not out.exists()


def test_a_canary_changing_the_image_of_the_stable_revision_plans(tmp_path: Path) -> None:
    """It used to register the stable revision's sync job twice: a duplicate URN and a traceback."""
    doc = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
    model = doc["config"]["llm-platform:models"]["qwen-7b"]
    model["canary"] = {
        "weight": 10,
        "imageTag": "v0.33.1",
        "revision": model["source"]["huggingFace"]["revision"],
    }
    doc["config"]["llm-platform:tenants"]["playground"]["quota"]["gpus"] = (
        4  # qwen-7b 2, its canary 1, qwen-7b-triton 1
    )
    stack_file = _stack_file(tmp_path, yaml.safe_dump(doc))
    out = tmp_path / "out"
    result = plan_cli("plan", "--stack", "dev", "--config", str(stack_file), "--out", str(out))
    assert result.returncode == 0, result.stderr
    records = json.loads((out / "resources.json").read_text())
    jobs = [r["props"]["metadata"]["name"] for r in records if r["type"] == "kubernetes:batch/v1:Job"]
    assert [j for j in jobs if j.startswith("qwen-7b-sync")] == ["qwen-7b-sync-a09a35458c70"]


def test_under_the_engine_the_stack_file_says_which_values_are_secure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_pulumi: RunPulumi
) -> None:
    """The engine flags all of llm-platform:models secret when one apiKey is `secure:`; the
    program reads the stack file to refuse the plain one next to it."""
    import infra.program

    (tmp_path / "Pulumi.yaml").write_text((REPO / "Pulumi.yaml").read_text())
    _stack_file(tmp_path, "")  # not this stack's file
    (tmp_path / "Pulumi.prod.yaml").write_text(
        _prod_text_with(
            "      apiKey:\n        secure: v1:cGxhY2Vob2xkZXI=:bGxhbWEtOGItYXBpLWtleQ==\n",
            "      apiKey: sk-typed-in-plain-text\n",
        )
    )
    monkeypatch.setattr(infra.program, "project_dir", lambda: tmp_path)
    files = read_stack(tmp_path, "prod")
    assert f"{NAMESPACE}:models" in files.secret_keys
    with pytest.raises(Exception, match=r"models\.llama-8b\.apiKey: is stored in plain text"):
        run_pulumi(program, stack="prod", config=files.config, secret_keys=files.secret_keys)
