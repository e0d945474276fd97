"""User namespaces: the Linux feature on a node by itself, and what a node shows about a Pod that
asks for one (`spec.hostUsers: false`).

    seen = userns.map_root_on_node(worker)       # the kernel alone: root in a new user namespace
    seen["inside-uid"], seen["uid-map"], seen["host-uid"]      # "0", "0 100000 65536", "100000"
    seen["inside-reads"], seen["root-reads"]     # a root-only file of the node: "no" inside, "yes" for the node's root
    userns.handlers_supporting(node_object)      # runtime handlers the kubelet says support user namespaces
    userns.reporter(event)                       # which component reported an Event ("kubelet")
    userns.sandbox_requests(worker, pod_uid, since)   # containerd's "RunPodSandbox" lines for that Pod
    userns.container_uid(worker, container_id)   # the UID the node sees the container's process run as
    userns.outcome(lab, "own-users")             # ("running", pod), ("refused", event) or None yet

A Pod with hostUsers: false is checked by the kubelet before it asks the runtime for a sandbox:
the runtime must have told the kubelet (CRI RuntimeStatus, published on the Node as
status.runtimeHandlers) that its handler supports user namespaces; an old runtime (containerd
1.x) tells it nothing, and the kubelet refuses the Pod itself ("can't set `spec.hostUsers:
false`, runtime does not support user namespaces", pkg/kubelet/userns).
"""

from __future__ import annotations

OUTSIDE_UID = 100000  # where UID 0 of the node-side demonstration's namespace starts on the node

# Root on the node makes a user namespace (held by a sleeping process) and maps its UIDs 0..65535 to
# OUTSIDE..; a process entering it (nsenter) is UID 0 there, and tries to read a file only the
# node's root may read. (Not `unshare --map-users`: that needs newuidmap, which nodes lack.)
_SCRIPT = r"""set -e
out=$(mktemp -d)
trap 'kill $holder $inner 2>/dev/null || true; rm -rf "$out"' EXIT
chmod 755 "$out"; echo only-for-root > "$out/secret"; chmod 600 "$out/secret"
unshare --user sleep 60 < /dev/null > /dev/null 2>&1 &
holder=$!
while [ "$(readlink /proc/$holder/ns/user)" = "$(readlink /proc/self/ns/user)" ]; do sleep 0.05; done
echo "0 OUTSIDE 65536" > /proc/$holder/uid_map
echo "0 OUTSIDE 65536" > /proc/$holder/gid_map
nsenter --user --target $holder sh -c 'echo inside-uid $(id -u); if cat "$1" > /dev/null 2>&1; then echo inside-reads yes; else echo inside-reads no; fi; exec sleep 30' sh "$out/secret" > "$out/log" 2>&1 < /dev/null &
inner=$!
for i in $(seq 200); do grep -q inside-reads "$out/log" && break; sleep 0.05; done
[ -d /proc/$inner ] || { cat "$out/log" >&2; exit 1; }
cat "$out/log"
echo "uid-map $(tr -s ' ' < /proc/$inner/uid_map | sed 's/^ //')"
echo "host-uid $(awk '/^Uid:/ {print $2}' /proc/$inner/status)"
if cat "$out/secret" > /dev/null 2>&1; then echo root-reads yes; else echo root-reads no; fi
"""


def map_root_on_node(node, outside_uid: int = OUTSIDE_UID) -> dict[str, str]:
    """Run the kernel's user namespaces on a node without Kubernetes: a process becomes UID 0 in a
    namespace whose UIDs start at `outside_uid` on the node. Returns what was seen: inside-uid (as
    the process sees itself), uid-map (/proc/<pid>/uid_map), host-uid (the node's view of the same
    process), inside-reads / root-reads (whether it, and the node's root, can read a root-only file)."""
    out = node.sh("sh -s", input=_SCRIPT.replace("OUTSIDE", str(int(outside_uid))).encode())
    return parse_report(out)


def parse_report(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key:
            found[key] = value.strip()
    return found


def handlers_supporting(node_object: dict) -> list[str]:
    """The runtime handlers a Node reports (status.runtimeHandlers, from the runtime through the
    kubelet) as supporting user namespaces; "" is the default handler. An old runtime reports no
    handlers at all: []."""
    handlers = (node_object.get("status") or {}).get("runtimeHandlers") or []
    return [h.get("name", "") for h in handlers if (h.get("features") or {}).get("userNamespaces")]


def reporter(event: dict) -> str:
    """The component that reported an Event (core/v1: source.component, or reportingComponent)."""
    return (event.get("source") or {}).get("component") or event.get("reportingComponent") or ""


def sandbox_requests(node, pod_uid: str, since: float) -> list[str]:
    """containerd's log lines, since a Unix time, about a RunPodSandbox call for the Pod with this
    UID: the kubelet asked the runtime for its sandbox (containerd logs each call with the Pod's
    metadata, UID included, in 1.x and 2.x)."""
    return requests_in(
        [text for _, text in node.journal("containerd", since, grep=pod_uid)], pod_uid
    )


def container_uid(node, container_id: str) -> str:
    """The real UID, as the node sees it, of a container's main process (/proc/<pid>/status)."""
    return uid_in(node.container_proc_file(container_id, "status"))


def uid_in(proc_status: str) -> str:
    """The real UID in the text of a /proc/<pid>/status file (its "Uid:" line)."""
    return next(line.split()[1] for line in proc_status.splitlines() if line.startswith("Uid:"))


def outcome(lab, pod: str) -> tuple[str, dict] | None:
    """What became of a Pod that asks for a user namespace: ("running", the Pod) once it is
    ready, ("refused", the FailedCreatePodSandBox Event) once its sandbox was refused, else None."""
    from kubelab.core.readiness import is_ready

    found = lab.get("pod", pod)
    if is_ready(found):
        return "running", found
    events = lab.list("events", field_selector=f"involvedObject.name={pod}")
    return next((("refused", e) for e in events if e["reason"] == "FailedCreatePodSandBox"), None)


def requests_in(lines: list[str], pod_uid: str) -> list[str]:
    return [line for line in lines if pod_uid in line and "runpodsandbox" in line.lower()]
