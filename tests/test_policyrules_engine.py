"""kubelab.helpers.policyrules.expected_engine: which enforcement 06 expects to find, by the cluster's
images (the probe `caps.images`). The stock branch cannot run on the offline cluster: the values
are the ones kubelab.images.mode_of gives."""

from kubelab.helpers import policyrules


def test_offline_build_expects_kubelab_kindnetd():
    assert policyrules.expected_engine("offline") == "kubelab-kindnetd"


def test_stock_kind_expects_kube_network_policies():
    assert policyrules.expected_engine("stock") == "kube-network-policies"
    # and what a stock node's nft ruleset shows is named so
    table = "table inet kindnet-network-policies {\n\tset podips-v4 {\n\t}\n}\n"
    assert policyrules.engine(policyrules.lines(table))[0] == policyrules.expected_engine("stock")
