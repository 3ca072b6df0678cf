"""The component package for other languages, for real: `pulumi package gen-sdk` generates the
TypeScript and Go SDKs from this repository's plugin (PulumiPlugin.yaml, served by the Python
language host), and the consumer examples of the docs compile against them: the TypeScript one
with `tsc`, the Go one with `go build`. The examples are read from the docs on every run, so a
change to the docs is what gets compiled.

    python -m e2e.sdks [--workdir build/e2e/sdks]     prints the result as JSON; exit 1 on a failure

What it needs besides the CLI and the Python host (the e2e puts both on PATH):
- the code generators: `gen-sdk --language nodejs|go` asks a pulumi-language-nodejs or
  pulumi-language-go host for the code, and the module proxy serves neither host's module;
  the wrapper e2e/toolchain/language-codegen builds both from the CLI's own pkg/v3
  (scripts/toolchain.sh, like the rest of the toolchain);
- npm packages for tsc, installed once per set of pins under the cache directory;
- Go modules for the Go consumer, from the module cache (the toolchain builds put them there);
  the network is used only when something is missing, as on a first run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOOLCHAIN = ROOT / "e2e" / "toolchain"
CACHE = Path(
    os.environ.get("LLM_PLATFORM_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "llm-platform"
)

# What tsc compiles against: the TypeScript of @pulumi/pulumi's supported range, the Node.js
# types of the runtime @pulumi/pulumi 3.276 requires, and the Kubernetes SDK the example uses.
NPM_PINS = {
    "@pulumi/kubernetes": "4.34.2",
    "@pulumi/pulumi": "3.276.0",
    "@types/node": "22.20.7",
    "typescript": "5.9.3",
}
# Where each language's consumer example lives (the same blocks tests/test_component_package.py checks).
DOCS = (ROOT / "README.md", ROOT / "docs" / "components.md")
USES_THE_PACKAGE = re.compile(r"llmplatform[.:](index:)?(New)?InferenceService")
# What `pulumi new typescript` gives a project, without output.
TSCONFIG = {
    "compilerOptions": {
        "strict": True,
        "noEmit": True,
        "target": "es2020",
        "module": "commonjs",
        "moduleResolution": "node",
        "experimentalDecorators": True,
        "noFallthroughCasesInSwitch": True,
        "noImplicitReturns": True,
        "forceConsistentCasingInFileNames": True,
        "skipLibCheck": True,
        "types": ["node"],
        "baseUrl": ".",
        "paths": {"@pulumi/llmplatform": ["../sdk/nodejs/index.ts"]},
    },
    "files": ["index.ts"],
}


class StepError(Exception):
    """A step that did not work, with what it printed."""


def _run(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float, what: str) -> str:
    try:
        proc = subprocess.run(argv, cwd=cwd, env=env, text=True, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise StepError(f"{what}: timed out after {timeout:.0f} s") from e
    except OSError as e:
        raise StepError(f"{what}: {e}") from e
    if proc.returncode != 0:
        output = "\n".join(line for line in (proc.stdout + proc.stderr).splitlines() if line.strip())
        raise StepError(f"{what} (exit {proc.returncode}):\n{_tail(output)}")
    return proc.stdout


def _tail(text: str, lines: int = 40) -> str:
    kept = text.splitlines()
    return "\n".join(kept if len(kept) <= lines else ["...", *kept[-lines:]])


def example(language: str) -> str:
    """The one consumer example in `language` that the docs show."""
    blocks = [
        block
        for doc in DOCS
        for block in re.findall(rf"```{language}\n(.*?)```", doc.read_text(), re.S)
        if USES_THE_PACKAGE.search(block)
    ]
    if len(blocks) != 1:
        raise StepError(
            f"{language}: {len(blocks)} consumer examples in {', '.join(d.name for d in DOCS)}, expected 1"
        )
    return str(blocks[0])


def generate(language: str, out: Path, env: dict[str, str]) -> Path:
    """`pulumi package gen-sdk` of this repository; the SDK's directory.

    It runs outside the checkout: in it, the CLI finds both Pulumi.yaml and PulumiPlugin.yaml
    at the same depth and refuses ("detected both PulumiPlugin.yaml and Pulumi.yaml")."""
    argv = ["pulumi", "package", "gen-sdk", str(ROOT), "--language", language, "--out", str(out)]
    with tempfile.TemporaryDirectory(prefix="llm-platform-gen-sdk-") as outside:
        _run(
            [*argv, "--non-interactive"],
            cwd=Path(outside),
            env=env,
            timeout=600,
            what=" ".join(argv[:3] + argv[4:6]),
        )
    sdk = out / language
    if not any(sdk.rglob("*.ts" if language == "nodejs" else "*.go")):
        raise StepError(f"pulumi package gen-sdk --language {language} wrote no code to {sdk}")
    return sdk


def npm_packages(env: dict[str, str]) -> Path:
    """node_modules with NPM_PINS, installed once under the cache (offline when npm's own cache has them)."""
    key = hashlib.sha256(json.dumps(NPM_PINS, sort_keys=True).encode()).hexdigest()[:16]
    home = CACHE / "npm" / key
    if (home / ".installed").exists():
        return home / "node_modules"
    home.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".install-{key}-", dir=home.parent))
    try:
        (work / "package.json").write_text(json.dumps({"private": True, "dependencies": NPM_PINS}, indent=2))
        argv = ["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
        try:
            _run([*argv, "--offline"], cwd=work, env=env, timeout=600, what="npm install --offline")
        except StepError:
            _run([*argv, "--prefer-offline"], cwd=work, env=env, timeout=900, what="npm install")
        (work / ".installed").touch()
        try:
            work.rename(home)
        except OSError:  # another run installed it meanwhile
            if not (home / ".installed").exists():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return home / "node_modules"


def typescript(workdir: Path, env: dict[str, str], errors: list[str]) -> dict[str, bool]:
    result = {"generated": False, "compiled": False}
    root = workdir / "typescript"
    shutil.rmtree(root, ignore_errors=True)
    (root / "consumer").mkdir(parents=True)
    with ThreadPoolExecutor(1) as pool:
        modules = pool.submit(npm_packages, env)
        try:
            generate("nodejs", root / "sdk", env)
            result["generated"] = True
        except StepError as e:
            errors.append(str(e))
        try:
            node_modules = modules.result()
        except StepError as e:
            errors.append(str(e))
            return result
    if not result["generated"]:
        return result
    try:
        # The SDK's sources import @pulumi/pulumi: node_modules must be above them.
        (root / "node_modules").symlink_to(node_modules, target_is_directory=True)
        (root / "consumer" / "index.ts").write_text(example("typescript"))
        (root / "consumer" / "tsconfig.json").write_text(json.dumps(TSCONFIG, indent=2))
        tsc = node_modules / "typescript" / "bin" / "tsc"
        _run(
            ["node", str(tsc), "-p", "tsconfig.json", "--pretty", "false"],
            cwd=root / "consumer",
            env=env,
            timeout=600,
            what="tsc (the README's TypeScript example against the generated SDK)",
        )
        result["compiled"] = True
    except StepError as e:
        errors.append(str(e))
    return result


def _module_requires(wrapper: str, module: str) -> str:
    """The version of `module` that a toolchain wrapper's go.mod requires: in the module cache."""
    match = re.search(
        rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)",
        (TOOLCHAIN / wrapper / "go.mod").read_text(),
        re.M,
    )
    if not match:
        raise StepError(f"e2e/toolchain/{wrapper}/go.mod requires no {module}")
    return match.group(1)


def go(workdir: Path, env: dict[str, str], errors: list[str]) -> dict[str, bool]:
    result = {"generated": False, "built": False}
    root = workdir / "go"
    shutil.rmtree(root, ignore_errors=True)
    (root / "consumer").mkdir(parents=True)
    try:
        sdk = generate("go", root / "sdk", env)
        result["generated"] = True
        # The generated code names its own import path; the SDK's module is the directory above it.
        code = "\n".join(p.read_text() for p in sdk.glob("*/*.go"))
        found = re.search(r'"(\S+)/(\w+)/internal"', code)
        if not found:
            raise StepError(f"no import path in the generated Go SDK under {sdk}")
        module = found.group(1)
        pulumi_sdk = _module_requires("language-codegen", "github.com/pulumi/pulumi/sdk/v3")
        kubernetes_sdk = _module_requires("kubernetes-provider", "github.com/pulumi/pulumi-kubernetes/sdk/v4")
        (sdk / "go.mod").write_text(
            f"module {module}\n\ngo 1.24\n\nrequire github.com/pulumi/pulumi/sdk/v3 {pulumi_sdk}\n"
        )
        consumer = root / "consumer"
        (consumer / "main.go").write_text(example("go"))
        (consumer / "go.mod").write_text(
            "module consumer\n\ngo 1.24\n\nrequire (\n"
            f"\t{module} v0.0.0\n"
            f"\tgithub.com/pulumi/pulumi-kubernetes/sdk/v4 {kubernetes_sdk}\n"
            f"\tgithub.com/pulumi/pulumi/sdk/v3 {pulumi_sdk}\n"
            f")\n\nreplace {module} => ../sdk/go\n"
        )
        build = ["go", "build", "-o", os.devnull, "."]
        # Flags of the toolchain builds, so their compiled packages are reused from Go's build cache.
        go_env = {
            **env,
            "GOFLAGS": "-mod=mod -buildvcs=false -trimpath",
            "CGO_ENABLED": "0",
            "GOTOOLCHAIN": "local",
        }
        try:  # offline first: what the module cache holds is enough once it has been filled
            _run(build, cwd=consumer, env={**go_env, "GOPROXY": "off"}, timeout=1800, what="go build")
        except StepError as e:
            if "GOPROXY=off" not in str(e):
                raise
            _run(
                build,
                cwd=consumer,
                env=go_env,
                timeout=1800,
                what="go build (the docs' Go example against the generated SDK)",
            )
        result["built"] = True
    except StepError as e:
        errors.append(str(e))
    return result


def check_sdks(workdir: Path, env: dict[str, str]) -> dict[str, Any]:
    """Generates both SDKs into `workdir` and compiles the docs' examples against them.

    `env` runs the CLI: the toolchain (pulumi, the Python host, the code generation hosts) on PATH, offline settings
    (file backend, no plugin acquisition). Returns {"typescript": {"generated", "compiled"},
    "go": {"generated", "built"}}, with "errors" when something failed."""
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    ts_errors: list[str] = []
    go_errors: list[str] = []
    with ThreadPoolExecutor(2) as pool:
        ts = pool.submit(typescript, workdir, env, ts_errors)
        gosdk = pool.submit(go, workdir, env, go_errors)
        report: dict[str, Any] = {"typescript": ts.result(), "go": gosdk.result()}
    if ts_errors or go_errors:
        report["errors"] = ts_errors + go_errors
    return report


def _nothing() -> dict[str, Any]:
    return {"typescript": {"generated": False, "compiled": False}, "go": {"generated": False, "built": False}}


def _toolchain_env(workdir: Path) -> dict[str, str]:
    """What scripts/e2e.sh gives the e2e: the built toolchain on PATH (unless PATH has the CLI
    and the Python host already) and an offline CLI."""
    path = os.environ.get("PATH", "")
    if not all(
        shutil.which(tool, path=path)
        for tool in ("pulumi", "pulumi-language-python", "pulumi-language-nodejs")
    ):
        built = _run(
            ["bash", "-c", f'source "{ROOT}/scripts/toolchain.sh" && toolchain_path'],
            cwd=ROOT,
            env=dict(os.environ),
            timeout=3600,
            what="scripts/toolchain.sh",
        ).strip()
        path = f"{built}{os.pathsep}{path}"
    state = workdir / "state"
    state.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "PATH": path,
        "PULUMI_HOME": str(workdir / "pulumi-home"),
        "PULUMI_BACKEND_URL": f"file://{state}",
        "PULUMI_CONFIG_PASSPHRASE": "llm-platform-e2e",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workdir", type=Path, default=ROOT / "build" / "e2e" / "sdks")
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        env = _toolchain_env(workdir)
    except StepError as e:
        report: dict[str, Any] = {**_nothing(), "errors": [str(e)]}
    else:
        report = check_sdks(workdir, env)
    print(json.dumps(report, indent=2))
    print(f"{time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0 if all(all(v.values()) for k, v in report.items() if k != "errors") else 1


if __name__ == "__main__":
    sys.exit(main())
