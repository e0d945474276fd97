"""The kubelab command: a thin layer over the library.

    kubelab up [--config default] [--images auto|stock|offline] [--recreate]
    kubelab down [--config default]
    kubelab doctor
    kubelab images build [--force-node]

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
