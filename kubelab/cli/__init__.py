"""The kubelab command: a thin layer over the library (the top layer: it may import all of it).
Beside it: demo (`make demo`'s tour), doctor (what this machine lacks) and gc (leftovers).

    kubelab up [--config default] [--images auto|stock|offline] [--recreate]
    kubelab down [--config default]
    kubelab doctor
    kubelab images build [--kubernetes v1.36] [--force-node] [--list]
    kubelab prepare [NN ...] [--tests]
    kubelab new NOTEBOOK
    kubelab check NOTEBOOK
    kubelab run NOTEBOOK [-p KEY VALUE]...
    kubelab test
    kubelab list
    kubelab gc [--all]
    kubelab coverage [--json] [--notebook NAME]
    kubelab site [--out DIR] [--serve] [--port N]

Every failure prints one message (what went wrong, its fix, where its log with the full
traceback is, under kubelab's state folder) and exits non-zero; Ctrl-C exits 130.
"""

import argparse
import os
import sys
from pathlib import Path

from kubelab.core.errors import KubelabError


def cmd_up(args) -> int:
    from kubelab.cluster import KindCluster

    KindCluster(args.config, name=args.name, images=args.images).up(
        recreate=args.recreate, wait=args.wait, keep_on_failure=args.keep_on_failure
    )
    return 0


def cmd_down(args) -> int:
    from kubelab.cluster import KindCluster

    KindCluster(args.config, name=args.name).down()
    return 0


def cmd_doctor(args) -> int:
    from kubelab.cli.doctor import run_checks

    return 0 if run_checks() else 1


def cmd_images_build(args) -> int:
    from kubelab.cluster.host import require_docker
    from kubelab.cluster.offline.build import build, listing

    if args.list:
        rows = [("component", "kind", "what", "state"), *listing(args.kubernetes)]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for row in rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        return 0
    require_docker()
    image = build(force_node=args.force_node, kubernetes=args.kubernetes)
    print(image)
    return 0


def cmd_prepare(args) -> int:
    from kubelab.runner import notebooks
    from kubelab.cluster import prepare
    from kubelab.cluster.host import require_docker

    chosen = (
        [notebooks.find(name) for name in args.notebooks]
        if args.notebooks
        else notebooks.discover()
    )
    needs = prepare.of_notebooks(chosen) | (prepare.of_tests() if args.tests else prepare.Needs())
    require_docker()
    prepare.build(needs, images=args.images)
    return 0


def report(result) -> None:
    line = f"{result.notebook}: {result.status} in {result.seconds:.0f} s, {result.checks_passed} checks passed"
    print(line + (f" ({result.message})" if result.message else ""))
    for difference in result.stable_differences:
        print(
            f"  stable output of cell {difference['cell']} differs from the committed one:\n{difference['detail']}"
        )
    print(
        f"  executed notebook: {result.output}"
        + (f"\n  HTML: {result.html}" if result.html else "")
    )


def existing_cluster(args):
    """The backend for --kubeconfig: someone else's cluster, only with --existing-cluster."""
    if not getattr(args, "kubeconfig", None):
        return None
    from kubelab.cluster import ExistingCluster

    if not args.existing_cluster:
        raise KubelabError(
            f"kubelab only runs notebooks on clusters it created, not on {args.kubeconfig}",
            "add --existing-cluster to use that cluster anyway (kubelab then works only in namespaces of its own)",
        )
    return ExistingCluster(args.kubeconfig, args.context)


def cmd_new(args) -> int:
    from kubelab.runner import scaffold

    path = scaffold.new(args.notebook)
    print(
        f"wrote {path}: fill in each question's answer and experiment; `kubelab check "
        f"{path.stem.split('-')[0]}` runs the standard's static tests, `kubelab run` executes it"
    )
    return 0


def cmd_check(args) -> int:
    """The notebook standard's static tests (tests/), for one notebook, without a cluster."""
    from kubelab.core.paths import REPO
    from kubelab.runner import notebooks, scaffold

    nb = notebooks.find(args.notebook)
    scaffold.spec_name(nb.name)
    tests = REPO / "tests"
    if not (tests / "test_spec.py").exists():
        raise KubelabError(
            f"no tests in {tests}", "kubelab check runs the tests of a clone of the repository"
        )
    import pytest

    return pytest.main(
        [
            "-q",
            "-m",
            "not cluster",
            "-p",
            "no:cacheprovider",
            "-k",
            nb.name,
            str(tests / "test_spec.py"),
            str(tests / "test_notebooks.py"),
        ]
    )


def cmd_run(args) -> int:
    from kubelab.runner import notebooks, scaffold

    nb = notebooks.find(args.notebook)
    scaffold.spec_name(
        nb.name
    )  # a notebook outside the spec's grouping has no IDs to prove: refused
    params = notebooks.parse_parameters(nb, args.parameter or [])
    result = notebooks.run(
        nb,
        params,
        cluster=existing_cluster(args),
        config=args.config,
        cluster_name=args.cluster_name,
        namespace=args.namespace,
    )
    report(result)
    return 0 if result.status == "passed" else 1


def cmd_test(args) -> int:
    from kubelab.runner import notebooks, schedule

    chosen = (
        [notebooks.find(name) for name in args.notebooks]
        if args.notebooks
        else notebooks.discover()
    )
    from kubelab.cluster import prepare

    prepare.build(prepare.of_notebooks(chosen))  # once, before any notebook's budget starts
    outcomes = schedule.run_all(chosen, keep_clusters=args.keep_clusters or None)
    print(schedule.table(outcomes))
    bad = [o for o in outcomes if o.status not in ("passed", "not-run") or o.stable_differences]
    not_run = sum(o.status == "not-run" for o in outcomes)
    print(
        f"{len(outcomes) - len(bad) - not_run} passed, {len(bad)} failed"
        + (f", {not_run} not run" if not_run else "")
    )
    return 1 if bad or not outcomes else 0


def cmd_list(args) -> int:
    from kubelab.runner import notebooks, schedule

    found = notebooks.discover()
    for nb in found:
        h = (
            notebooks.last_run(nb.name) or {}
        )  # out/<name>.run.json: what coverage and the website read too
        last = (
            f"{h.get('status')} {h.get('finished', '')} on {h.get('version', '?')}"
            if h
            else f"no run record in {notebooks.out_dir()}"
        )
        needs = ", ".join(f"{k}={v}" for k, v in nb.requires.items()) or "-"
        print(
            f"{nb.name}\n  sections: {', '.join(map(str, nb.sections)) or '-'} ({len(nb.answers)} claims and questions)"
            f"\n  cluster: {nb.cluster}{', disturbs nodes' if nb.disturbs else ''}; budget {nb.budget_seconds:.0f} s"
            f"\n  requires: {needs}"
            + (f"\n  add-ons: {', '.join(nb.addons)}" if nb.addons else "")
            + (f"\n  extra clusters: {', '.join(nb.extra_clusters)}" if nb.extra_clusters else "")
            + f"\n  last: {last}"
        )
    print(
        f"all notebooks, each using its whole budget: {schedule.projected_seconds(found) / 60:.1f} min"
    )
    return 0


def cmd_gc(args) -> int:
    from kubelab.cli.gc import collect

    collect(everything=args.all)
    return 0


def cmd_coverage(args) -> int:
    import json
    import os
    from pathlib import Path

    from kubelab.core.errors import KubelabError
    from kubelab.runner import coverage

    if args.runs:
        if not any(Path(args.runs).glob("*.run.json")):  # also when DIR does not exist
            raise KubelabError(
                f"no runs in {args.runs} (no <notebook>.run.json there)",
                "name the folder a run wrote to: KUBELAB_OUT=DIR kubelab run NN ... writes there",
            )
        os.environ["KUBELAB_OUT"] = str(args.runs)
    ledger = coverage.compute()
    name = coverage.resolve_notebook(args.notebook, ledger.spec) if args.notebook else None
    print(
        json.dumps(ledger.to_json(name), ensure_ascii=False, indent=1)
        if args.json
        else ledger.render_text(name)
    )
    return 0


def cmd_site(args) -> int:
    from kubelab import site

    built = site.build(out=args.out)
    if args.serve:
        with site.serve(built.path, port=args.port) as url:
            print(f"site: serving {built.path} at {url} (Ctrl-C stops it)", flush=True)
            import threading

            threading.Event().wait()
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kubelab", description="Learn Kubernetes by experiment on throwaway kind clusters."
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def cluster_args(sp, images: bool = True):
        sp.add_argument(
            "--config",
            default="default",
            help="cluster config: a name in clusters/ or a path (default: default)",
        )
        sp.add_argument("--name", help="cluster name (default: kubelab-<config>)")
        if images:
            sp.add_argument(
                "--images",
                choices=["auto", "stock", "offline"],
                help="stock kind images, or kubelab's offline build (default: auto-detect; env KUBELAB_IMAGES)",
            )

    up = sub.add_parser("up", help="create (or reuse) a cluster and wait until it is ready")
    cluster_args(up)
    up.add_argument(
        "--recreate", action="store_true", help="delete and create it even if it is healthy"
    )
    up.add_argument(
        "--wait", type=float, default=300, help="seconds to wait for all nodes Ready (default 300)"
    )
    up.add_argument(
        "--keep-on-failure",
        action="store_true",
        help="leave a cluster that failed to come up, to inspect it",
    )
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="delete a cluster kubelab created")
    cluster_args(down, images=False)
    down.set_defaults(func=cmd_down)

    doctor = sub.add_parser(
        "doctor", help="check Docker, kind, kubectl, disk, memory and inotify limits"
    )
    doctor.set_defaults(func=cmd_doctor)

    images = sub.add_parser(
        "images", help="the offline images (for machines with no container registry)"
    )
    images_sub = images.add_subparsers(dest="images_command", required=True, metavar="ACTION")
    build = images_sub.add_parser(
        "build",
        help="build kind, Kubernetes and the node image from Go modules and Debian packages",
    )
    build.add_argument(
        "--force-node", action="store_true", help="rebuild the node image even if it is up to date"
    )
    build.add_argument(
        "--list",
        action="store_true",
        help="list the components, their versions and which are cached; build nothing",
    )
    build.add_argument(
        "--kubernetes",
        metavar="VERSION",
        help="another Kubernetes minor the pins declare (e.g. v1.36); default: the pinned one",
    )
    build.set_defaults(func=cmd_images_build)

    prep = sub.add_parser(
        "prepare",
        help="build everything notebooks (and with --tests, the tests) will need: node images, add-ons",
    )
    prep.add_argument(
        "notebooks",
        nargs="*",
        help="only what these need (names or numbers; default: every notebook)",
    )
    prep.add_argument(
        "--tests",
        action="store_true",
        help="also what the test suite brings up and installs (tests/needs.toml)",
    )
    prep.add_argument(
        "--images",
        choices=["auto", "stock", "offline"],
        help="stock kind images, or kubelab's offline build (default: auto-detect; env KUBELAB_IMAGES)",
    )
    prep.set_defaults(func=cmd_prepare)

    new = sub.add_parser(
        "new", help="write a chapter's notebook in the standard's form, from the spec, to fill in"
    )
    new.add_argument(
        "notebook", help="the chapter's number or name as the spec groups them (e.g. 08)"
    )
    new.set_defaults(func=cmd_new)

    chk = sub.add_parser(
        "check", help="run the notebook standard's static tests on one notebook (no cluster)"
    )
    chk.add_argument("notebook", help="its name or number (e.g. 07)")
    chk.set_defaults(func=cmd_check)

    run = sub.add_parser(
        "run",
        help="execute one notebook on the cluster (papermill); writes it and an HTML copy to out/",
    )
    run.add_argument("notebook", help="its name or number (e.g. 00)")
    run.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("KEY", "VALUE"),
        help="set a parameter",
    )
    run.add_argument("--config", help="cluster config (default: the one the notebook declares)")
    run.add_argument(
        "--cluster-name", help="the kubelab cluster's name (default: kubelab-<config>)"
    )
    run.add_argument(
        "--kubeconfig", help="run on a cluster kubelab did not create (needs --existing-cluster)"
    )
    run.add_argument("--context", help="the kubeconfig context to use (with --kubeconfig)")
    run.add_argument(
        "--namespace",
        help="run in this existing namespace (e.g. the one a workshop gives you): kubelab neither"
        " creates nor deletes it, and removes only what the run made there",
    )
    run.add_argument(
        "--existing-cluster",
        action="store_true",
        help="allow --kubeconfig: kubelab then creates and deletes only its own namespaces there",
    )
    run.set_defaults(func=cmd_run)

    test = sub.add_parser(
        "test", help="execute every notebook (quiet ones side by side), print a table"
    )
    test.add_argument("notebooks", nargs="*", help="only these (names or numbers)")
    test.add_argument(
        "--keep-clusters",
        action="store_true",
        help="keep clusters other than the default at the end",
    )
    test.set_defaults(func=cmd_test)

    lst = sub.add_parser(
        "list", help="the notebooks, what they answer and need, and when they last passed"
    )
    lst.set_defaults(func=cmd_list)

    gc = sub.add_parser(
        "gc", help="remove what interrupted runs left: their namespaces, half-made clusters"
    )
    gc.add_argument("--all", action="store_true", help="also delete every cluster kubelab created")
    gc.set_defaults(func=cmd_gc)

    cov = sub.add_parser(
        "coverage", help="which claims and questions the notebooks' last runs proved, per section"
    )
    cov.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list instead: one object per claim or question",
    )
    cov.add_argument(
        "--notebook", metavar="NAME", help="only this notebook's sections (name or number, e.g. 01)"
    )
    cov.add_argument(
        "--runs",
        metavar="DIR",
        help="read the runs recorded in DIR (default: out/), e.g. runs made on another cluster:"
        " what it could show, and what it skipped and why",
    )
    cov.set_defaults(func=cmd_coverage)

    site = sub.add_parser(
        "site",
        help="build the website (out/site) from the notebooks the last runs executed; runs nothing",
    )
    site.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where the runs left their notebooks and records (default: out/, or $KUBELAB_OUT)",
    )
    site.add_argument(
        "--serve", action="store_true", help="then serve it on localhost until Ctrl-C"
    )
    site.add_argument(
        "--port",
        type=int,
        default=8000,
        help="the port for --serve (default 8000; 0: any free one)",
    )
    site.set_defaults(func=cmd_site)
    return p


def command_name(args) -> str:
    """The subcommand as typed, e.g. "up" or "images build"."""
    return " ".join(part for part in (args.command, getattr(args, "images_command", None)) if part)


def write_error_log(command: str, argv: list[str]) -> Path:
    """The full story of a failure, for whoever reads it later: the command line, versions, the traceback."""
    import platform
    import traceback
    from datetime import datetime, timezone

    from kubelab import __version__
    from kubelab.core.paths import state_dir

    now = datetime.now(timezone.utc)
    logs = state_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / f"{now:%Y%m%dT%H%M%S.%fZ}-{command.replace(' ', '-')}.log"
    path.write_text(
        f"kubelab {' '.join(argv)}\n{now.isoformat()}\nkubelab {__version__}, Python {platform.python_version()}, "
        f"{platform.platform()}\n\n{traceback.format_exc()}"
    )
    return path


def error_message(error: Exception, command: str, log: str) -> str:
    """One message: what went wrong while doing what, how to fix it, and where the details are."""
    if isinstance(error, KubelabError):
        lines = [f"kubelab: error: {error.what}"] + ([f"  fix: {error.fix}"] if error.fix else [])
        return "\n".join(lines + [f"  details: {log}"])
    return (
        f"kubelab: error: unexpected error while running `kubelab {command}`: {type(error).__name__}: {error}\n"
        f"  fix: this is a bug in kubelab; please report it with the log: {log}"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("kubelab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`kubelab coverage | head`): not an error. Python would complain
        # again when it flushes stdout at exit, so point stdout at nothing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:  # every failure ends as one message; its traceback goes to a log file
        command = command_name(args)
        try:
            log = str(write_error_log(command, argv))
        except OSError as log_error:
            log = f"(no log: writing it failed: {log_error})"
        print(error_message(e, command, log), file=sys.stderr)
        return 1
