"""Read the parts of `kubectl describe` output that the API has no field for.

    text = lab.kubectl(f"describe node {name}", quiet=True)
    describe.allocated(text)     # {"cpu": Allocation("950m", "100m"), "memory": Allocation("290Mi", "390Mi"), ...}

"Allocated resources" is kubectl's sum of the requests and limits of the pods bound to the node
(it lists them through the API), so it only ever counts what the kubelet runs for the API.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Allocation:
    requests: str
    limits: str


def allocated(describe_text: str) -> dict[str, Allocation]:
    """The "Allocated resources" table of `kubectl describe node`, by resource name."""
    lines = describe_text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("Allocated resources:"))
    except StopIteration:
        raise ValueError(
            "no 'Allocated resources:' section in this output (is it `kubectl describe node`?)"
        ) from None
    table: dict[str, Allocation] = {}
    for line in lines[start + 1 :]:
        if line and not line.startswith(" "):
            break  # the next section (e.g. Events:)
        words = line.split()
        if not words or words[0] in ("Resource", "--------") or words[0].startswith("("):
            continue
        # "cpu  950m (47%)  100m (5%)": name, requests, (percent), limits, (percent)
        values = [w for w in words[1:] if not w.startswith("(")]
        if len(values) >= 2:
            table[words[0]] = Allocation(values[0], values[1])
    return table
