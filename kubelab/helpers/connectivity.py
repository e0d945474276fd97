"""Who can reach whom: a connectivity matrix between Pods, probed for real, and drawn.

    sources = {"a1": (lab.namespace, "a1"), "b1": (other, "b1")}       # label -> (namespace, pod)
    targets = {"a1": "10.244.1.5:8080", "b1": "10.244.2.7:8080"}       # label -> address:port
    before = connectivity.probe(lab, sources, targets)                 # {("a1", "b1"): True, ...}
    connectivity.plot([("no policy", before), ("default deny", after)], sources, targets)

Each source Pod tries every target at once (curl, one attempt, `timeout` seconds), so a matrix
costs about one timeout per source, however many targets. The source Pods need curl and sh (the
agnhost image has both). A reached target is one that answered HTTP at all; a blocked one did not
answer within the timeout, or refused the connection: the API leaves it to the enforcer whether a
denied packet is dropped or rejected (kubelab's offline engine rejects).
"""

from __future__ import annotations

import shlex

Matrix = dict[tuple[str, str], bool]


def probe(
    lab, sources: dict[str, tuple[str, str]], targets: dict[str, str], timeout: float = 1.5
) -> Matrix:
    """{(source, target): reached} for every source Pod and target address."""
    attempts = " ".join(
        f"( code=$(curl -s -o /dev/null -w '%{{http_code}}' --max-time {timeout} http://{address}/ 2>/dev/null);"
        f" echo {shlex.quote(label)} ${{code:-000}} ) &"
        for label, address in targets.items()
    )
    matrix: Matrix = {}
    for source, (namespace, pod) in sources.items():
        out = lab.exec(pod, f"{attempts} wait", namespace=namespace)
        codes = dict(line.split() for line in out.splitlines() if line.strip())
        for target in targets:
            matrix[(source, target)] = codes.get(target, "000") != "000"
    return matrix


def reached(matrix: Matrix) -> set[tuple[str, str]]:
    """The (source, target) pairs that connected."""
    return {pair for pair, ok in matrix.items() if ok}


def reaching(matrix: Matrix, target: str) -> list[str]:
    """The sources, other than the target itself, that reached the target, sorted."""
    return sorted(s for s, t in reached(matrix) if t == target and s != target)


def table(matrix: Matrix, sources, targets) -> str:
    """The matrix as text: a row per source, ✓ reached, · blocked."""
    width = max(len(s) for s in [*sources, "from \\ to"])
    lines = ["from \\ to".ljust(width) + "  " + "  ".join(t.center(4) for t in targets)]
    for s in sources:
        lines.append(
            s.ljust(width)
            + "  "
            + "  ".join(("✓" if matrix[(s, t)] else "·").center(max(4, len(t))) for t in targets)
        )
    return "\n".join(lines)


def plot(series: list[tuple[str, Matrix]], sources, targets, title: str | None = None):
    """One grid per (title, matrix), side by side: rows are sources, columns targets, green where
    the connection was made, red where it was blocked."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    sources, targets = list(sources), list(targets)
    fig, axes = plt.subplots(
        1,
        len(series),
        figsize=(2.2 + 1.9 * len(series) * max(1, len(targets) / 3), 0.9 + 0.45 * len(sources)),
        squeeze=False,
    )
    colours = ListedColormap(["#d62728", "#2ca02c"])
    for ax, (name, matrix) in zip(axes[0], series):
        grid = [[1 if matrix[(s, t)] else 0 for t in targets] for s in sources]
        ax.imshow(grid, cmap=colours, vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(targets)), targets, fontsize=8)
        ax.set_yticks(
            range(len(sources)), sources if ax is axes[0][0] else [""] * len(sources), fontsize=8
        )
        ax.set_xticks([x - 0.5 for x in range(1, len(targets))], minor=True)
        ax.set_yticks([y - 0.5 for y in range(1, len(sources))], minor=True)
        ax.grid(which="minor", color="white", linewidth=2)
        ax.tick_params(which="minor", length=0)
        ax.xaxis.tick_top()
        ax.set_xlabel(name, fontsize=9)
    axes[0][0].set_ylabel("from", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def covering_block(addresses) -> str:
    """The smallest CIDR block that holds every address (one family), e.g. for a NetworkPolicy
    `ipBlock` that must take in a set of Pods: ["10.244.1.5", "10.244.2.7"] -> "10.244.0.0/22"."""
    import ipaddress

    ips = [ipaddress.ip_address(a) for a in addresses]
    if not ips or len({ip.version for ip in ips}) != 1:
        raise ValueError(f"covering_block takes addresses of one family, got {addresses!r}")
    block = ipaddress.ip_network(ips[0])
    while not all(ip in block for ip in ips):
        block = block.supernet()
    return str(block)
