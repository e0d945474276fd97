"""kubelab.helpers.connectivity: one exec per source Pod, its output read into a matrix."""

from kubelab.helpers import connectivity


class FakeLab:
    """Answers each source's parallel curls as a cluster would: b is blocked for everyone but itself."""

    def __init__(self):
        self.commands = []

    def exec(self, pod, command, namespace=None):
        self.commands.append((namespace, pod, command))
        return "\n".join(f"{t} {'000' if t == 'b' and pod != 'b' else '200'}" for t in ("a", "b"))


def test_a_matrix_from_one_exec_per_source():
    lab = FakeLab()
    matrix = connectivity.probe(
        lab, {"a": ("ns1", "a"), "b": ("ns2", "b")}, {"a": "10.0.0.1:8080", "b": "10.0.0.2:8080"}
    )
    assert matrix == {("a", "a"): True, ("a", "b"): False, ("b", "a"): True, ("b", "b"): True}
    assert [(ns, pod) for ns, pod, _ in lab.commands] == [("ns1", "a"), ("ns2", "b")]
    assert "http://10.0.0.2:8080/" in lab.commands[0][2] and lab.commands[0][2].endswith("wait")
    assert connectivity.reached(matrix) == {("a", "a"), ("b", "a"), ("b", "b")}
    assert connectivity.table(matrix, ["a", "b"], ["a", "b"]).splitlines()[1].split() == [
        "a",
        "✓",
        "·",
    ]
