"""The images every kubelab cluster has, by their pinned names (clusters/offline/pins.toml).

Notebooks use these instead of writing tags, so a version change is made in one place and no
pod ever needs an image the cluster lacks:

    from kubelab import AGNHOST, BUSYBOX
    lab.apply(f'''... image: {AGNHOST} ...''')      # registry.k8s.io/e2e-test-images/agnhost:2.66.1

AGNHOST: agnhost, Kubernetes' test server (netexec, serve-hostname, liveness, ...).
BUSYBOX: busybox (sh, wget, nc, sleep...).
PAUSE: the pause image every pod's sandbox runs.
DNSUTILS: dig, nslookup and host (the "Debugging DNS Resolution" image); call lab.addon("dnsutils")
first, which puts it on the nodes.
KUBERNETES_VERSION: the Kubernetes version the offline build makes, e.g. "v1.37.2".
"""

from __future__ import annotations

from kubelab.cluster.offline.pins import load as _load_pins

_pins = _load_pins()

AGNHOST: str = _pins.image("agnhost")
BUSYBOX: str = _pins.image("busybox")
PAUSE: str = _pins.image("pause")
DNSUTILS: str = _pins.image("dnsutils")
KUBERNETES_VERSION: str = _pins.kubernetes

__all__ = ["AGNHOST", "BUSYBOX", "PAUSE", "DNSUTILS", "KUBERNETES_VERSION"]
