"""Where kubelab keeps things: the repository it runs from and its cache outside the repo."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # kubelab/core/paths.py -> the repository
CLUSTERS = REPO / "clusters"
OFFLINE = CLUSTERS / "offline"


def cache_dir() -> Path:
    """Heavy build results and logs, shared by every clone on this machine (keyed by version)."""
    base = (
        os.environ.get("KUBELAB_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kubelab"
    )
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def state_dir() -> Path:
    """Per-cluster kubeconfigs and bookkeeping: kubelab never touches ~/.kube/config."""
    base = (
        os.environ.get("KUBELAB_STATE")
        or Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "kubelab"
    )
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path
