"""EndpointSlices as a notebook reads them.

    rows = endpoints.walk(slice_, service, pods, nodes)   # each field of a slice beside what it comes from
    endpoints.show(rows)                                  # as a table; all(r.agrees for r in rows)
    with endpoints.ConditionsRecorder(lab, "flip") as rec:   # every change of a Service's endpoint
        ...                                              #   conditions, from a watch (kubelab.lab.recorder)
    rec.states()                                          # ["ready False, serving False, terminating False", ...]
    endpoints.plot(rec, marks, title)                     # the three conditions over time
    endpoints.addressed_pods(lab, "many", addresses, {"app": "many"}, node)   # Pods no node runs, with an IP
    endpoints.legacy_count(lab.get("endpoints", "many"))  # addresses in a legacy Endpoints object
    endpoints.remove_pods(lab, "app=many")                # all of them, in one request

`addressed_pods` makes Pods bound to a Node object that no kubelet serves (so nothing runs them)
and writes a Pod IP into their status, as a kubelet would: the controllers that read Pods
(Endpoints, EndpointSlices) and kube-proxy treat them as Pods at that address. It is how a cluster
with room for a few hundred Pods shows what happens to a Service with more than 1000. (An unbound
Pod will not do: the endpoints controller would write it with an empty nodeName, which the API
server refuses, and the Pod garbage collector deletes Pods bound to a Node that does not exist.)
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kubelab.lab.recorder import Event, Recorder

SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER = "endpointslice-controller.k8s.io"
ZONE = "topology.kubernetes.io/zone"
NO_ENDPOINT = "no endpoint"


@dataclass(frozen=True)
class Field:
    path: str  # the field in the slice: "endpoints[0].nodeName"
    value: Any  # what the slice says
    source: str  # where that comes from: "Pod web-x: spec.nodeName"
    expected: Any  # what the source says

    @property
    def agrees(self) -> bool:
        return self.value == self.expected


def _ready(pod: dict) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _target_port(service_port: dict, pods: list[dict]) -> Any:
    """The number a Service port's targetPort stands for in the Pods (a name is looked up in their
    containerPorts, as the EndpointSlice controller does; all Pods must agree)."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    numbers = {
        p["containerPort"]
        for pod in pods
        for c in pod["spec"].get("containers") or []
        for p in c.get("ports") or []
        if p.get("name") == target
    }
    return numbers.pop() if len(numbers) == 1 else sorted(numbers)


def walk(slice_: dict, service: dict, pods: list[dict], nodes: list[dict]) -> list[Field]:
    """One EndpointSlice, field by field, each beside the object and field it is made from: the
    Service (name, uid, ports, address family), each endpoint's Pod (IP, readiness, deletion, node)
    and that node's zone label. A field whose source says otherwise has agrees False."""
    meta, spec = slice_.get("metadata") or {}, service["spec"]
    labels, name, uid = (
        meta.get("labels") or {},
        service["metadata"]["name"],
        service["metadata"]["uid"],
    )
    owners = [
        (o.get("kind"), o.get("name"), o.get("uid"), o.get("controller"))
        for o in meta.get("ownerReferences") or []
    ]
    rows = [
        Field(
            "addressType",
            slice_.get("addressType"),
            f"Service {name}: spec.ipFamilies[0]",
            (spec.get("ipFamilies") or ["IPv4"])[0],
        ),
        Field(
            f"metadata.labels[{SERVICE_NAME}]",
            labels.get(SERVICE_NAME),
            f"Service {name}: metadata.name",
            name,
        ),
        Field(
            f"metadata.labels[{MANAGED_BY}]",
            labels.get(MANAGED_BY),
            "the EndpointSlice controller's own name",
            CONTROLLER,
        ),
        Field(
            "metadata.ownerReferences",
            owners,
            f"Service {name}: kind, name, uid (as controller)",
            [("Service", name, uid, True)],
        ),
    ]
    by_name = {p["metadata"]["name"]: p for p in pods}
    zones = {n["metadata"]["name"]: (n["metadata"].get("labels") or {}).get(ZONE) for n in nodes}
    ipv6 = slice_.get("addressType") == "IPv6"
    for i, endpoint in enumerate(slice_.get("endpoints") or []):
        ref = endpoint.get("targetRef") or {}
        pod = by_name.get(ref.get("name"))
        at = f"endpoints[{i}]"
        rows.append(
            Field(
                f"{at}.targetRef",
                (ref.get("kind"), ref.get("name"), ref.get("uid")),
                "a Pod the selector matches: kind, name, uid",
                ("Pod", pod["metadata"]["name"], pod["metadata"]["uid"]) if pod else "no such Pod",
            )
        )
        if pod is None:
            continue
        status, pod_name = pod.get("status") or {}, pod["metadata"]["name"]
        serving, terminating = _ready(pod), bool(pod["metadata"].get("deletionTimestamp"))
        node = pod["spec"].get("nodeName")
        rows += [
            Field(
                f"{at}.addresses",
                endpoint.get("addresses"),
                f"Pod {pod_name}: status.podIPs (its {slice_.get('addressType')} one)",
                [a["ip"] for a in status.get("podIPs") or [] if (":" in a["ip"]) == ipv6],
            ),
            Field(
                f"{at}.conditions",
                endpoint.get("conditions"),
                f"Pod {pod_name}: Ready condition, deletionTimestamp",
                {
                    "ready": serving and not terminating,
                    "serving": serving,
                    "terminating": terminating,
                },
            ),
            Field(
                f"{at}.nodeName", endpoint.get("nodeName"), f"Pod {pod_name}: spec.nodeName", node
            ),
            Field(
                f"{at}.zone", endpoint.get("zone"), f"Node {node}: label {ZONE}", zones.get(node)
            ),
        ]
    rows.append(
        Field(
            "ports",
            [
                (p.get("name") or "", p.get("port"), p.get("protocol"))
                for p in slice_.get("ports") or []
            ],
            f"Service {name}: each port's name and protocol; the Pods' containerPort its targetPort names",
            [
                (p.get("name") or "", _target_port(p, pods), p.get("protocol", "TCP"))
                for p in spec.get("ports") or []
            ],
        )
    )
    return rows


def show(rows: list[Field]) -> str:
    """Print the walk as a table: field, value, where it comes from, and whether they agree."""

    def text(value: Any) -> str:
        return (
            str(value)
            if not isinstance(value, dict)
            else ", ".join(f"{k} {v}" for k, v in value.items())
        )

    width = max(len(r.path) for r in rows)
    lines = [
        f"{r.path:{width}}  {text(r.value)[:70]:70}  {'=' if r.agrees else '≠'} {r.source}"
        for r in rows
    ]
    output = "\n".join(lines)
    print(output)
    return output


# -- conditions over time ----------------------------------------------------------------------


def conditions_of(slice_: dict | None) -> str:
    """The conditions of a slice's first endpoint as one line ("ready True, serving True,
    terminating False"), or "no endpoint"."""
    found = (slice_ or {}).get("endpoints") or []
    if not found:
        return NO_ENDPOINT
    c = found[0].get("conditions") or {}
    return ", ".join(f"{k} {c.get(k)}" for k in ("ready", "serving", "terminating"))


def parse_conditions(state: str) -> dict[str, str]:
    """ "ready True, serving False, terminating True" -> {"ready": "True", ...}; {} for "no endpoint"."""
    if state in (NO_ENDPOINT, "deleted"):
        return {}
    return dict(part.split(" ", 1) for part in state.split(", "))


class ConditionsRecorder(Recorder):
    """lab.record for one Service's EndpointSlices, whose state is its endpoint's conditions: every
    change the API server made to them, in order, with the time it was seen (from a watch, so no
    state is missed between two looks). Use as a context manager."""

    def __init__(self, lab, service: str, **kwargs):
        super().__init__(lab, ("endpointslices",), selector=f"{SERVICE_NAME}={service}", **kwargs)

    def _note(self, type_: str, obj: dict) -> None:
        kind, name = obj.get("kind", "EndpointSlice"), obj["metadata"]["name"]
        state = "deleted" if type_ == "DELETED" else conditions_of(obj)
        with self._lock:
            if type_ == "MODIFIED" and self._last_state.get((kind, name)) == state:
                return
            self._last_state[(kind, name)] = state
            self.events.append(
                Event(round(time.monotonic() - self.started, 2), type_, kind, name, state)
            )

    def elapsed(self) -> float:
        """Seconds since the recording started (to mark when something was done)."""
        return round(time.monotonic() - self.started, 2)

    def current(self) -> str:
        with self._lock:
            return self.events[-1].state if self.events else NO_ENDPOINT

    def wait_until(self, predicate, description: str, timeout: float = 60) -> str:
        """Until the recorded state satisfies predicate(state); returns it (reads the record, not the API)."""
        from kubelab.lab.waits import wait_for

        return wait_for(description, self.current, done=predicate, timeout=timeout, interval=0.1)

    def states(self) -> list[tuple[float, str]]:
        """(time, state) each time the state changed, in the order the API server made the changes."""
        changes: list[tuple[float, str]] = []
        for event in self.events:
            if event.state != "deleted" and (not changes or changes[-1][1] != event.state):
                changes.append((event.t, event.state))
        return changes


def plot(recorder: ConditionsRecorder, marks: dict[str, float], title: str):
    """The three conditions of the endpoint over time (one row each: True, False, or no endpoint),
    with the notebook's actions marked."""
    import matplotlib.pyplot as plt

    changes = recorder.states()
    end = (recorder.stopped or time.monotonic()) - recorder.started
    colours = {"True": "tab:green", "False": "tab:red", None: "lightgray"}
    fig, ax = plt.subplots(figsize=(11, 2.4))
    for row, condition in enumerate(("ready", "serving", "terminating")):
        for i, (t, state) in enumerate(changes):
            stop = changes[i + 1][0] if i + 1 < len(changes) else end
            value = parse_conditions(state).get(condition)
            ax.barh(
                row,
                max(stop - t, 0.05),
                left=t,
                color=colours.get(value, "lightgray"),
                edgecolor="white",
            )
    for label, t in marks.items():
        ax.axvline(t, color="black", linestyle=":", linewidth=1)
        ax.text(t, 2.6, label, fontsize=8, rotation=0, ha="left", va="bottom")
    ax.set_yticks(range(3), ["ready", "serving", "terminating"])
    ax.set_ylim(-0.6, 3.2)
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the recording started (green True, red False, grey no endpoint)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


# -- Pods at addresses of our choosing ---------------------------------------------------------


def addressed_pods(
    lab,
    prefix: str,
    addresses: list[str],
    labels: dict[str, str],
    node: str,
    image: str | None = None,
    workers: int = 8,
) -> list[str]:
    """One Pod per address, named <prefix>-0000..., bound to `node` (a Node object no kubelet serves,
    so nothing runs them or rewrites their status) and tolerating its taints, with the address
    written into status.podIP/podIPs as a kubelet would. Returns their names; `remove_pods` deletes them."""
    from kubelab.cluster.pinned import PAUSE

    lab.resource("v1/Pod"), lab.resource("pods")  # resolved once, before the threads share them

    def one(item: tuple[int, str]) -> str:
        i, address = item
        name = f"{prefix}-{i:04d}"
        lab.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "labels": labels},
                "spec": {
                    "nodeName": node,
                    "tolerations": [{"operator": "Exists"}],
                    "terminationGracePeriodSeconds": 0,
                    "containers": [{"name": "c", "image": image or PAUSE}],
                },
            },
            quiet=True,
        )
        lab.patch(
            "pods",
            name,
            {"status": {"podIP": address, "podIPs": [{"ip": address}]}},
            subresource="status",
        )
        return name

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, enumerate(addresses)))


def legacy_count(endpoints_object: dict | None) -> int:
    """How many addresses, ready or not, a legacy Endpoints object lists (0 for None)."""
    return sum(
        len(s.get("addresses") or []) + len(s.get("notReadyAddresses") or [])
        for s in (endpoints_object or {}).get("subsets") or []
    )


def remove_pods(lab, selector: str) -> int:
    """Delete every Pod of the lab's namespace that matches `selector`, in one request (a delete
    collection) and at once (gracePeriodSeconds 0: no kubelet is there to confirm a graceful
    delete of Pods bound to a Node none serves). Returns how many went."""
    deleted = lab.dynamic.delete(
        lab.resource("pods"),
        namespace=lab.namespace,
        label_selector=selector,
        body={"gracePeriodSeconds": 0},
    )
    return len(
        (deleted.to_dict() if hasattr(deleted, "to_dict") else deleted or {}).get("items") or []
    )
