"""What a run leaves on nodes beyond the changes node.py makes itself, and how to find it again:
images the kubelet pulled from the run's own registry pushes, the tags pushed there, and files a
runtime handler wrote. The records live on the node (under /var/lib/kubelab, see node.py), so
`Node.restore()` (from `lab.close()`, `kubelab run` after a failure, or `kubelab gc`) removes them.

    record = pull_record(repository, listing)     # before a pod pulls: the repository, and what to keep
    removable_images(listing, record_text)       # at restore: the image IDs to remove
    push_line(address, repository, digest)       # before a push: one line of the push record
    parse_pushes(record_text)                    # at restore: [(address, repository, digest)]

Only pure functions here: reading and writing the node is node.py's, talking to the registry is
registry.py's.
"""

from __future__ import annotations

import re

from kubelab.core.errors import KubelabError

PULL, KEEP = "pull", "keep"


def image_repository(reference: str) -> str:
    """The repository of an image reference, without its tag or digest:
    "registry.kubelab.local:5000/kubelab/greeting:latest" -> "registry.kubelab.local:5000/kubelab/greeting"."""
    name = reference.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return name[: len(name) - len(last)] + last.split(":", 1)[0]


def _references(image: dict) -> list[str]:
    return [*(image.get("repoTags") or []), *(image.get("repoDigests") or [])]


def images_of(listing: list[dict], repositories: set[str]) -> list[str]:
    """IDs of the images (`crictl images -o json`'s "images") with a tag or digest in one of the repositories."""
    return [
        image["id"]
        for image in listing
        if any(image_repository(ref) in repositories for ref in _references(image))
    ]


def pull_record(repository: str, listing: list[dict]) -> str:
    """The lines to append to a node's pull record before images of `repository` may be pulled
    there: the repository, and the images of it already present (they are kept)."""
    repository = image_repository(repository)
    if not re.fullmatch(r"[A-Za-z0-9._:/-]+", repository):
        raise KubelabError(
            f"{repository!r} is not an image repository",
            "e.g. registry.kubelab.local:5000/kubelab/greeting",
        )
    return "".join(
        [f"{PULL} {repository}\n", *(f"{KEEP} {i}\n" for i in images_of(listing, {repository}))]
    )


def removable_images(listing: list[dict], record: str) -> list[str]:
    """The image IDs a restore removes: images of a recorded repository that were not there when
    it was recorded, and that no reference outside the recorded repositories names (an image also
    tagged elsewhere was not only the run's)."""
    repositories, kept = set(), set()
    for line in record.splitlines():
        word, _, value = line.strip().partition(" ")
        if word == PULL:
            repositories.add(value.strip())
        elif word == KEEP:
            kept.add(value.strip())
    return [
        image["id"]
        for image in listing
        if image["id"] not in kept
        and (refs := _references(image))
        and any(image_repository(ref) in repositories for ref in refs)
        and all(image_repository(ref) in repositories for ref in refs)
    ]


def push_line(address: str, repository: str, digest: str) -> str:
    """One line of a node's push record: a manifest pushed to the registry at `address`."""
    for value in (address, repository, digest):
        if not re.fullmatch(r"[A-Za-z0-9._:/@-]+", value):
            raise KubelabError(
                f"{value!r} cannot go into the push record",
                "registry address, repository and digest only",
            )
    return f"{address} {repository} {digest}\n"


def parse_pushes(record: str) -> list[tuple[str, str, str]]:
    """The pushes a record names, each once, in the order they were made."""
    found: list[tuple[str, str, str]] = []
    for line in record.splitlines():
        parts = line.split()
        if len(parts) == 3 and tuple(parts) not in found:
            found.append((parts[0], parts[1], parts[2]))
    return found
