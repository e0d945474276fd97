"""kubectl run as a user runs it, when its exit code is part of the answer.

    run = commands.kubectl(lab, "diff -f -", input=manifest)   # kubectl diff: 0 same, 1 different, >1 error
    run.exit_code, run.out, run.err, run.started, run.ended     # Unix times around the command

`lab.kubectl` says only whether a command succeeded; `kubectl diff` and `kubectl rollout status`
answer with their exit code (and rollout status with how long it blocked), so this keeps both.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Run:
    command: str
    exit_code: int
    out: str
    err: str
    started: float  # Unix time, this machine's clock (kind's nodes share it)
    ended: float

    @property
    def seconds(self) -> float:
        return self.ended - self.started


def kubectl(lab, command: str | list[str], input: str | None = None, timeout: float = 300) -> Run:
    """Run kubectl in the lab's namespace (unless the command names one); never raises on a
    non-zero exit: the exit code is the result."""
    args = lab.kubectl_args(command)
    started = time.time()
    result = subprocess.run(
        lab.cluster.kubectl_command(*args),
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
    )
    return Run(
        " ".join(["kubectl", *args]),
        result.returncode,
        result.stdout,
        result.stderr,
        started,
        time.time(),
    )


def changed_lines(diff: str) -> list[str]:
    """The changed lines of a unified diff (what `kubectl diff` prints), without the file headers."""
    return [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
