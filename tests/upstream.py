"""Where the pinned upstream data files are (CRDs, chart values, vLLM and DCGM tables).

They live beside the repository in the steering checkout (../shared/upstream)
and are not copied into it. LLM_PLATFORM_UPSTREAM overrides the search, for
a clone checked out somewhere else.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CANDIDATES = (REPO.parent / "shared" / "upstream", Path("/work/shared/upstream"))


def upstream_dir() -> Path:
    env = os.environ.get("LLM_PLATFORM_UPSTREAM")
    for path in ([Path(env)] if env else []) + list(CANDIDATES):
        if (path / "MANIFEST.md").is_file():
            return path
    raise FileNotFoundError(
        "pinned upstream files not found; set LLM_PLATFORM_UPSTREAM to the shared/upstream "
        f"directory (looked in {', '.join(str(p) for p in CANDIDATES)})"
    )
