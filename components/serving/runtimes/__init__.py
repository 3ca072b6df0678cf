"""The serving runtimes, by the name models.<name>.runtime gives them.

Adding one: a module here with a class that satisfies base.Runtime, and one line below.
"""

from __future__ import annotations

from components.serving.runtimes.base import Runtime
from components.serving.runtimes.triton import TritonRuntime
from components.serving.runtimes.vllm import VllmRuntime

RUNTIMES: dict[str, Runtime] = {
    "vllm": VllmRuntime(),
    "triton": TritonRuntime(),
}
DEFAULT = "vllm"
