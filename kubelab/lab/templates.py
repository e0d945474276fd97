"""Manifests with values: block YAML as in the Kubernetes docs, with `{{ name }}` where a
notebook puts a value (an image, a count, a name it computed). Plain strings, not f-strings: a
flow mapping such as `{app: web}` is written as it is, never doubled."""

from __future__ import annotations

import json
import re

from kubelab.core.errors import KubelabError

# lab.apply's and lab.create's own keyword parameters: a value of that name never reaches the
# template, so a placeholder of that name is refused with a clear hint.
OWN_PARAMETERS = ("namespace", "quiet", "dry_run")
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def as_yaml_text(value) -> str:
    """A value as YAML text: scalars as they read, true/false for booleans, and a dict or list
    as a JSON flow collection (JSON is YAML), so that it fits on the placeholder's line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    raise KubelabError(
        f"a manifest value of type {type(value).__name__} ({value!r:.60})",
        "give a string, a number, a boolean, a dict or a list",
    )


def manifest(template: str, **values) -> str:
    """The template with each `{{ name }}` replaced by values[name]. Every placeholder needs a
    value and every value a placeholder (a misspelt name fails here, not as a strange object)."""
    wanted = set(PLACEHOLDER.findall(template))
    if missing := sorted(wanted - set(values)):
        own = [m for m in missing if m in OWN_PARAMETERS]
        raise KubelabError(
            f"the manifest's {', '.join('{{ ' + m + ' }}' for m in missing)} has no value",
            f"{', '.join(own)}: a parameter of apply/create itself, never a value; call the"
            " placeholder something else, e.g. {{ ns }}"
            if own
            else f"pass {', '.join(f'{m}=...' for m in missing)} with the manifest",
        )
    if unused := sorted(set(values) - wanted):
        raise KubelabError(
            f"the value(s) {', '.join(unused)} appear nowhere in the manifest",
            "write {{ " + unused[0] + " }} where it belongs, or drop the value",
        )
    return PLACEHOLDER.sub(lambda m: as_yaml_text(values[m.group(1)]), template)
