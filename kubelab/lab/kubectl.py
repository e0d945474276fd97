"""kubectl as a reader types it, scoped to the run: kubectl, exec, kubectl_apply, kubectl_background.
A part of kubelab.lab.lab.Lab; its methods use the others' (self.api, self.namespace, ...)."""

from __future__ import annotations

import shlex
import subprocess
from contextlib import contextmanager

from kubelab.core.errors import KubelabError


class KubectlOutput(str):
    """What a kubectl command printed on stdout; `.warnings`: the API server's "Warning:" lines;
    `.ok`: whether it succeeded."""

    warnings: list[str]
    ok: bool


class LabKubectl:
    """kubectl as a reader types it, scoped to the run (a part of Lab)."""

    def kubectl(
        self,
        command: str | list[str],
        check: bool = True,
        quiet: bool = False,
        input: str | None = None,
    ) -> "KubectlOutput":
        """Run kubectl in this lab's namespace (unless the command names one) and show its output,
        with the API server's "Warning:" lines, as a terminal would. Returns its stdout (a str) with
        `.warnings` and `.ok`; with check=False, a failed command's stderr follows it (what it
        refused). `input` is sent to its stdin (e.g. "apply -f -")."""
        args = self.kubectl_args(command)
        result = subprocess.run(
            self.cluster.kubectl_command(*args),
            capture_output=True,
            text=True,
            timeout=300,
            input=input,
        )
        warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
        out = KubectlOutput(result.stdout + (result.stderr if result.returncode else ""))
        out.warnings, out.ok = warnings, result.returncode == 0
        if not quiet:
            print("\n".join([out.rstrip(), *([] if result.returncode else warnings)]).strip())
        if check and result.returncode != 0:
            raise KubelabError(
                f"kubectl {' '.join(args)} failed (exit {result.returncode}): {result.stderr.strip()}"
            )
        return out

    def kubectl_args(self, command: str | list[str]) -> list[str]:
        """kubectl's arguments for `command` (with or without a leading "kubectl"), in this lab's
        namespace unless the command names one or asks for all."""
        args = shlex.split(command) if isinstance(command, str) else list(command)
        if args and args[0] == "kubectl":
            args = args[1:]
        if not any(
            a in ("-n", "--namespace", "-A", "--all-namespaces") or a.startswith("--namespace=")
            for a in args
        ):
            args = ["-n", self.namespace, *args]
        return args

    def exec(
        self,
        pod: str,
        command: str,
        container: str | None = None,
        namespace: str | None = None,
        check: bool = True,
        quiet: bool = True,
    ) -> "KubectlOutput":
        """Run a shell command in a pod's container (`kubectl exec POD -- sh -c COMMAND`); returns its
        stdout (with check=False, a failure's stderr follows it, and `.ok` is False)."""
        args = [
            "exec",
            pod,
            *(["-c", container] if container else []),
            *(["-n", namespace] if namespace else []),
            "--",
            "sh",
            "-c",
            command,
        ]
        return self.kubectl(args, check=check, quiet=quiet)

    def kubectl_apply(self, manifest: str) -> dict:
        """`kubectl apply -f -` of YAML text in this lab's namespace, as a user would run it:
        {"ok": bool, "out": what it printed, "warnings": the API server's "Warning:" lines}.
        In a namespace the run was given, each object gets the run's label, as lab.apply gives
        it, so that closing the run deletes it."""
        if getattr(self, "given_namespace", False):
            import yaml

            docs = [d for d in yaml.safe_load_all(manifest) if isinstance(d, dict)]
            manifest = yaml.safe_dump_all(
                self._mark_as_the_runs(self.resource(f"{d['apiVersion']}/{d['kind']}"), d, new=True)
                for d in docs
            )
        out = self.kubectl("apply -f -", check=False, input=manifest)
        return {"ok": out.ok, "out": str(out), "warnings": out.warnings}

    @contextmanager
    def kubectl_background(self, command: str):
        """A kubectl command left running while the block runs (e.g. `logs -f`), then stopped."""
        args = self.kubectl_args(command)
        process = subprocess.Popen(
            self.cluster.kubectl_command(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            yield process
        finally:
            process.terminate()
            process.wait(timeout=10)
