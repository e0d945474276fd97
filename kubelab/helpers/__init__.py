"""What notebooks import to observe and analyse, one concern per module: certs, cgroups, dns,
dataplane, connectivity, endpoints, featuregates, leases, spans and times (timelines), swap,
userns, ... Layer: may import kubelab.lab, kubelab.cluster and kubelab.core; never the runner,
the site or the CLI.

    from kubelab.helpers import spans, times
"""
