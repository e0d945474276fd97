"""Reading what the API and the nodes report: resource quantities ("250m", "128Mi") and the type
of a node's cgroup filesystem. Pure functions; kubelab.helpers.cgroups re-exports them for notebooks.
"""


def version_of(filesystem_type: str) -> int:
    """`stat -fc %T /sys/fs/cgroup`: cgroup2fs is v2; tmpfs (a folder per controller) is v1."""
    kind = filesystem_type.strip()
    if kind == "cgroup2fs":
        return 2
    if kind == "tmpfs":
        return 1
    raise ValueError(f"/sys/fs/cgroup is {kind!r}: neither cgroup v1 (tmpfs) nor v2 (cgroup2fs)")


def millicores(quantity: str) -> int:
    return int(quantity[:-1]) if quantity.endswith("m") else int(float(quantity) * 1000)


def bytes_of(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 10**3, "M": 10**6, "G": 10**9}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(float(quantity[: -len(suffix)]) * factor)
    return int(quantity)
