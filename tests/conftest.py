import uuid

import pytest

from kubelab.cluster import KindCluster
from kubelab.lab import Lab


@pytest.fixture(scope="session")
def cluster() -> KindCluster:
    """The default cluster, created once (or reused) for the whole run."""
    return KindCluster("default").up()


@pytest.fixture
def namespace(cluster):
    """A fresh namespace for one test, deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    Lab(cluster, name, notebook="pytest").create_namespace()   # labelled: `kubelab gc` finds leftovers
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


