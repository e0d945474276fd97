"""Where a run came from: the commit of the kubelab checkout that ran it.

A run's record (out/<notebook>.run.json) carries it, so a page of the website can say which
version of the notebooks and the library it shows ("verified ... at commit 26fb8d4").
"""

import subprocess

from kubelab.core.paths import REPO


def commit() -> str | None:
    """The checkout's commit, short ("26fb8d4"), with " + local changes" when tracked files differ
    from it; None when kubelab does not run from a git checkout (or git is missing)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=20
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return None
    changed = git("status", "--porcelain", "--untracked-files=no")
    return f"{head} + local changes" if changed else head
