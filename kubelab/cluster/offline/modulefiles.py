"""Step kind "files": files taken out of a Go module as the module proxy serves it (e.g. the
Gateway API CRDs inside sigs.k8s.io/gateway-api), for add-ons whose manifests a project
publishes in its module rather than as Go code."""

import fnmatch
import json
import shutil
from pathlib import Path

from kubelab.core.errors import KubelabError
from kubelab.cluster.offline.pins import Component
from kubelab.cluster.offline.steps import Step

KIND_VERSION = 1  # bump when this module changes what a files step produces


def build(step: Step, component: Component) -> None:
    reference = f"{component.get('module')}@{component.get('version')}"
    downloaded = json.loads(step.output(["go", "mod", "download", "-json", reference]))
    if downloaded.get("Error") or not downloaded.get("Dir"):
        raise KubelabError(
            f"downloading {reference} failed: {downloaded.get('Error', 'no folder')}"
        )
    source = downloaded["Dir"]
    out = step.workdir / "files"
    out.mkdir()
    found = sorted(
        p
        for pattern in component.get("paths")
        for p in Path(source).glob(pattern)
        if p.is_file() and fnmatch.fnmatch(str(p.relative_to(source)), pattern)
    )
    if not found:
        raise KubelabError(f"{reference} has no files matching {component.get('paths')}")
    for path in found:
        target = out / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    step.log(f"copied {len(found)} files from {reference}")


def files(result: Path) -> dict[str, Path]:
    """A finished files step's files, by their path in the module."""
    root = result / "files"
    return {str(f.relative_to(root)): f for f in sorted(root.rglob("*")) if f.is_file()}
