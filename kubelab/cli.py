"""The kubelab command: a thin layer over the library.

    kubelab up [--config default] [--images auto|stock|offline] [--recreate]
    kubelab down [--config default]
    kubelab doctor
    kubelab images build [--force-node]
    kubelab run NOTEBOOK [-p KEY VALUE]...
    kubelab test
    kubelab list
    kubelab gc [--all]

Every failure kubelab understands prints one message with its fix and exits non-zero.
"""

import argparse
import sys

from .errors import KubelabError


def cmd_up(args) -> int:
    from .cluster import KindCluster
    KindCluster(args.config, name=args.name, images=args.images).up(
        recreate=args.recreate, wait=args.wait, keep_on_failure=args.keep_on_failure)
    return 0


def cmd_down(args) -> int:
    from .cluster import KindCluster
    KindCluster(args.config, name=args.name).down()
    return 0


def cmd_doctor(args) -> int:
    from .doctor import run_checks
    return 0 if run_checks() else 1


def cmd_images_build(args) -> int:
    from .host import require_docker
    from .offline.build import build
    require_docker()
    image = build(force_node=args.force_node)
    print(image)
    return 0


def report(result) -> None:
    line = f"{result.notebook}: {result.status} in {result.seconds:.0f} s"
    print(line + (f" ({result.message})" if result.message else ""))
    print(f"  executed notebook: {result.output}" + (f"\n  HTML: {result.html}" if result.html else ""))


def cmd_run(args) -> int:
    from . import notebooks
    nb = notebooks.find(args.notebook)
    params = notebooks.parse_parameters(nb, args.parameter or [])
    result = notebooks.run(nb, params, config=args.config)
    report(result)
    return 0 if result.status == "passed" else 1


def cmd_test(args) -> int:
    from . import notebooks
    results = [notebooks.run(nb, config=args.config) for nb in notebooks.discover()]
    for r in results:
        report(r)
    failed = [r for r in results if r.status == "failed"]
    print(f"{sum(r.status == 'passed' for r in results)} passed, {len(failed)} failed"
          + (f", {sum(r.status == 'not-run' for r in results)} not run" if any(r.status == "not-run" for r in results) else ""))
    return 1 if failed or not results else 0


def cmd_list(args) -> int:
    from . import notebooks
    past = notebooks.history()
    for nb in notebooks.discover():
        h = past.get(nb.name, {})
        last = f"passed {h['last_passed']} on {h['version']}" if h.get("last_passed") else "never passed"
        needs = ", ".join(f"{k}={v}" for k, v in nb.requires.items()) or "-"
        answers = ", ".join(nb.answers) or "-"
        print(f"{nb.name}\n  answers: {answers}\n  requires: {needs}\n  last: {last}")
    return 0


def cmd_gc(args) -> int:
    from .gc import collect
    collect(everything=args.all)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kubelab", description="Learn Kubernetes by experiment on throwaway kind clusters.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def cluster_args(sp, images: bool = True):
        sp.add_argument("--config", default="default", help="cluster config: a name in clusters/ or a path (default: default)")
        sp.add_argument("--name", help="cluster name (default: kubelab-<config>)")
        if images:
            sp.add_argument("--images", choices=["auto", "stock", "offline"],
                            help="stock kind images, or kubelab's offline build (default: auto-detect; env KUBELAB_IMAGES)")

    up = sub.add_parser("up", help="create (or reuse) a cluster and wait until it is ready")
    cluster_args(up)
    up.add_argument("--recreate", action="store_true", help="delete and create it even if it is healthy")
    up.add_argument("--wait", type=float, default=300, help="seconds to wait for all nodes Ready (default 300)")
    up.add_argument("--keep-on-failure", action="store_true", help="leave a cluster that failed to come up, to inspect it")
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="delete a cluster kubelab created")
    cluster_args(down, images=False)
    down.set_defaults(func=cmd_down)

    doctor = sub.add_parser("doctor", help="check Docker, kind, kubectl, disk, memory and inotify limits")
    doctor.set_defaults(func=cmd_doctor)

    images = sub.add_parser("images", help="the offline images (for machines with no container registry)")
    images_sub = images.add_subparsers(dest="images_command", required=True, metavar="ACTION")
    build = images_sub.add_parser("build", help="build kind, Kubernetes and the node image from Go modules and Debian packages")
    build.add_argument("--force-node", action="store_true", help="rebuild the node image even if it is up to date")
    build.set_defaults(func=cmd_images_build)

    run = sub.add_parser("run", help="execute one notebook on the cluster (papermill); writes it and an HTML copy to out/")
    run.add_argument("notebook", help="its name or number (e.g. 00)")
    run.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("KEY", "VALUE"), help="set a parameter")
    run.add_argument("--config", default="default", help="cluster config (default: default)")
    run.set_defaults(func=cmd_run)

    test = sub.add_parser("test", help="execute every notebook")
    test.add_argument("--config", default="default", help="cluster config (default: default)")
    test.set_defaults(func=cmd_test)

    lst = sub.add_parser("list", help="the notebooks, what they answer and need, and when they last passed")
    lst.set_defaults(func=cmd_list)

    gc = sub.add_parser("gc", help="remove what interrupted runs left: their namespaces, half-made clusters")
    gc.add_argument("--all", action="store_true", help="also delete every cluster kubelab created")
    gc.set_defaults(func=cmd_gc)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except KubelabError as e:
        print(f"kubelab: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("kubelab: interrupted", file=sys.stderr)
        return 130
