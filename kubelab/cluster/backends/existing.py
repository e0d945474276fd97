"""A cluster kubelab did not create, reached through a kubeconfig: used only when asked explicitly.

kubelab reads the given kubeconfig and never writes it (kubectl's discovery cache goes to
kubelab's state folder, not beside the kubeconfig or in ~/.kube). It never creates, recreates or
deletes this cluster, and it has no node access here: notebooks that run commands inside nodes,
stop or reconfigure them stop with NodeAccessUnavailable (or, through `requires(lab,
node_access=True)`, are reported as not run).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import yaml

from kubelab.core.errors import KubelabError
from kubelab.cluster.images import ImageChoice, tool
from kubelab.core.paths import state_dir
from kubelab.cluster.backends.base import ClusterBackend

# Any kubectl will do here; this choice only makes `tool` prefer kubelab's pinned build when
# there is one, and fall back to $KUBELAB_KUBECTL or PATH.
_ANY_KUBECTL = ImageChoice("offline", None, "a kubectl for a cluster kubelab did not create")


class ExistingCluster(ClusterBackend):
    """Someone else's cluster: `ExistingCluster("~/.kube/config", context="staging")`."""

    node_access = False

    def __init__(self, kubeconfig: str | Path, context: str | None = None):
        self.kubeconfig = Path(kubeconfig).expanduser()
        if not self.kubeconfig.is_file():
            raise KubelabError(
                f"using an existing cluster failed: no kubeconfig at {self.kubeconfig}",
                "give the path of an existing kubeconfig file (env KUBELAB_KUBECONFIG)",
            )
        self.context = (
            context or None
        )  # "" (an unset KUBELAB_CONTEXT) means the kubeconfig's current context
        self.name = context or self._current_context() or "existing"
        # One state folder per kubeconfig and context: two kubeconfigs may both call theirs "admin".
        digest = hashlib.sha256(f"{self.kubeconfig.resolve()}\0{context}".encode()).hexdigest()[:8]
        self.dir = (
            state_dir() / "existing" / f"{re.sub(r'[^A-Za-z0-9_.-]', '-', self.name)}-{digest}"
        )
        self.dir.mkdir(parents=True, exist_ok=True)

    def _current_context(self) -> str | None:
        try:
            data = yaml.safe_load(self.kubeconfig.read_text())
        except (OSError, yaml.YAMLError) as e:
            raise KubelabError(
                f"reading the kubeconfig {self.kubeconfig} failed: {e}",
                "give a valid kubeconfig (kubectl config view --kubeconfig FILE shows what is wrong)",
            ) from None
        return data.get("current-context") if isinstance(data, dict) else None

    @property
    def kubectl_binary(self) -> Path:
        return tool("kubectl", _ANY_KUBECTL)

    def record(self) -> None:
        return None  # kubelab did not create it, so it owns nothing here but its namespaces

    def problem(self) -> str:
        """ "" when the API server answers through this kubeconfig, else why not."""
        try:
            self.kubectl("get", "--raw", "/version", timeout=20)
            return ""
        except KubelabError as e:
            return f"not reachable ({str(e).splitlines()[0][-160:]})"

    def up(self, *args, **kwargs) -> "ExistingCluster":
        """Check that the cluster answers; kubelab never creates or changes someone else's cluster."""
        problem = self.problem()
        if problem:
            raise KubelabError(
                f"using cluster {self.name} (kubeconfig {self.kubeconfig}) failed: {problem}",
                "check the kubeconfig and context: kubectl --kubeconfig "
                f"{self.kubeconfig}{' --context ' + self.context if self.context else ''} get nodes",
            )
        return self
