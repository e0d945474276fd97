"""What a container's resources look like in its cgroup, on either cgroup version.

A node uses the cgroup version of the machine its container runs on, so a notebook must probe
it (`version_of(stat output)`) and check the files of the version it found:

    version = cgroups.version_of(node.sh("stat -fc %T /sys/fs/cgroup"))
    wanted = cgroups.expected_files(version, cpu_request="250m", cpu_limit="500m", memory_limit="128Mi")
    for (controller, name), acceptable in wanted.items():
        value = node.cgroup_file(container_id, controller, name)   # controller "" on v2
        check(value in acceptable, ...)

The values follow what the kubelet asks of the runtime (CPU shares and CFS quota) and how runc
writes them on each version; cpu.weight has two conversions from shares, runc's old linear one
and the one runc 1.3.2+ uses, so both are accepted.
"""

import math

from kubelab.core.units import bytes_of, millicores, version_of  # noqa: F401  (notebooks read them here)

PERIOD_US = 100_000  # the kubelet's CFS period


def shares(cpu_request: str) -> int:
    """The kubelet's CPU shares for a request (1 CPU = 1024 shares, at least 2)."""
    return max(2, millicores(cpu_request) * 1024 // 1000)


def weights(cpu_shares: int) -> set[str]:
    """cpu.weight for given shares: runc's linear conversion, and runc 1.3.2+'s quadratic one."""
    linear = 1 + ((cpu_shares - 2) * 9999) // 262142
    exponent = (math.log2(cpu_shares) ** 2 + 125 * math.log2(cpu_shares)) / 612.0 - 7.0 / 34.0
    quadratic = math.ceil(10**exponent)
    return {str(linear), str(quadratic)}


def expected_files(
    version: int, cpu_request: str, cpu_limit: str, memory_limit: str
) -> dict[tuple[str, str], set[str]]:
    """{(controller, file): acceptable values} for a container with these resources."""
    quota = millicores(cpu_limit) * PERIOD_US // 1000
    memory = str(bytes_of(memory_limit))
    if version == 2:
        return {
            ("", "memory.max"): {memory},
            ("", "cpu.max"): {f"{quota} {PERIOD_US}"},
            ("", "cpu.weight"): weights(shares(cpu_request)),
        }
    if version == 1:
        return {
            ("memory", "memory.limit_in_bytes"): {memory},
            ("cpu", "cpu.cfs_quota_us"): {str(quota)},
            ("cpu", "cpu.cfs_period_us"): {str(PERIOD_US)},
            ("cpu", "cpu.shares"): {str(shares(cpu_request))},
        }
    raise ValueError(f"cgroup version {version}?")


# The claim names the v2 files; on v1 the same limits live under these names.
V2_NAME_OF = {
    "memory.limit_in_bytes": "memory.max",
    "cpu.cfs_quota_us": "cpu.max (quota)",
    "cpu.cfs_period_us": "cpu.max (period)",
    "cpu.shares": "cpu.weight",
}
