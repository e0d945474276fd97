"""`make demo`, first half: the default cluster, shown (the Makefile then runs the tour notebook)."""

from kubelab.cluster.backends.base import say
from kubelab.cluster.backends.kind import KindCluster


def main() -> None:
    cluster = KindCluster("default").up()
    nodes = cluster.nodes()
    print(f"\nCluster {cluster.name}: {cluster.choice.describe()}")
    print(f"{'NODE':32} {'READY':6} {'ZONE':8} {'KUBELET':10} RUNTIME")
    for n in nodes:
        labels, info = n["metadata"]["labels"], n["status"]["nodeInfo"]
        ready = next(c["status"] for c in n["status"]["conditions"] if c["type"] == "Ready")
        print(
            f"{n['metadata']['name']:32} {ready:6} {labels.get('topology.kubernetes.io/zone', '-'):8} "
            f"{info['kubeletVersion']:10} {info['containerRuntimeVersion']}"
        )
    print(f"\nUse it:  kubectl --kubeconfig {cluster.kubeconfig} get pods -A")
    say("next: the tour notebook (kubelab run 00)")


if __name__ == "__main__":
    main()
