"""The one exception type the CLI turns into a clear message (no traceback)."""


class KubelabError(Exception):
    """Something kubelab could not do, with what to do about it.

    `what` says what went wrong (and what kubelab was doing); `fix` says how to fix it.
    """

    def __init__(self, what: str, fix: str | None = None):
        super().__init__(what)
        self.what = what
        self.fix = fix

    def __str__(self) -> str:
        return self.what if not self.fix else f"{self.what}\n  fix: {self.fix}"
