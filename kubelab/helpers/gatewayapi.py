"""The Gateway API as a cluster carries it: the support level its CRDs give each field, and the
status a controller writes on GatewayClasses, Gateways and routes.

    crd = lab.get("customresourcedefinitions", "httproutes.gateway.networking.k8s.io")
    gatewayapi.filter_support(crd)        # {"requestHeaderModifier": "Core", "urlRewrite": "Extended", ...}
    gatewayapi.conditions(gateway)        # {"Accepted": ("True", "Accepted"), "Programmed": (...)}
    gatewayapi.granted(gatewayapi.conditions(gateway))   # only those whose status is True
    gatewayapi.parent_conditions(route)   # {"ns/web": {"Accepted": ("False", "NotAllowedByListeners")}}
    gatewayapi.attached_routes(gateway)   # {"http": 1}: routes attached to each listener
    gatewayapi.supported_features(gatewayclass)   # the features its controller says it implements

The Gateway API grades every feature: Core (every conformant implementation must support it),
Extended (portable, but optional: an implementation declares whether it has it) and
Implementation-specific. The CRDs' field descriptions say which, as "Support: <level>".
"""

from __future__ import annotations

import re

SUPPORT = re.compile(r"Support:\s*(Core|Extended|Implementation-specific)", re.IGNORECASE)


def support_level(description: str) -> str | None:
    """The first "Support: <level>" a field's description states (None if it states none)."""
    found = SUPPORT.search(description or "")
    return found[1].capitalize() if found else None


def _schema(crd: dict, version: str) -> dict:
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            return entry["schema"]["openAPIV3Schema"]
    raise KeyError(
        f"{crd['metadata']['name']} has no version {version} "
        f"(it has {', '.join(v['name'] for v in crd['spec']['versions'])})"
    )


def filter_support(crd: dict, version: str = "v1") -> dict[str, str]:
    """{filter: support level} for the filters of an HTTPRoute rule (`rules[].filters[]`), as
    the installed CRD describes them; filters whose description gives no level are left out."""
    rules = _schema(crd, version)["properties"]["spec"]["properties"]["rules"]["items"][
        "properties"
    ]
    filters = rules["filters"]["items"]["properties"]
    return {
        name: level
        for name, field in filters.items()
        if name != "type" and (level := support_level(field.get("description", "")))
    }


def conditions(obj: dict | None) -> dict[str, tuple[str, str]]:
    """An object's status conditions as {type: (status, reason)}."""
    return _by_type(((obj or {}).get("status") or {}).get("conditions"))


def granted(conditions_by_type: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """The conditions (as `conditions` gives them) whose status is True: "Accepted" in
    granted(conditions(gateway)) once the controller accepted it."""
    return {kind: c for kind, c in conditions_by_type.items() if c[0] == "True"}


def _by_type(conditions_list: list | None) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c.get("reason", "")) for c in conditions_list or []}


def parent_conditions(route: dict | None) -> dict[str, dict[str, tuple[str, str]]]:
    """A route's status per parent (a Gateway it asked to attach to), keyed "namespace/name"
    (the route's own namespace when the parentRef names none): {type: (status, reason)}."""
    own = ((route or {}).get("metadata") or {}).get("namespace", "")
    return {
        f"{p['parentRef'].get('namespace') or own}/{p['parentRef']['name']}": _by_type(
            p.get("conditions")
        )
        for p in ((route or {}).get("status") or {}).get("parents") or []
    }


def attached_routes(gateway: dict | None) -> dict[str, int]:
    """{listener name: attachedRoutes}, as the controller reports them in the Gateway's status."""
    return {
        listener["name"]: listener.get("attachedRoutes", 0)
        for listener in ((gateway or {}).get("status") or {}).get("listeners") or []
    }


def supported_features(gateway_class: dict | None) -> list[str]:
    """The feature names a GatewayClass's controller lists in `status.supportedFeatures`
    (Gateway API v1.2 and later; empty when the controller does not publish them)."""
    features = ((gateway_class or {}).get("status") or {}).get("supportedFeatures") or []
    return sorted(f["name"] if isinstance(f, dict) else str(f) for f in features)
