"""Serve a built site on localhost, for a reader (`kubelab site --serve`) or the browser test.

with serve(Path("out/site")) as url:      # "http://127.0.0.1:41234/"
    ...
"""

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # one line per file is noise in a test log
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A reader who leaves a page before it loaded is not an error."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def serve(path: Path, port: int = 0) -> Iterator[str]:
    """An HTTP server for `path` on 127.0.0.1 (port 0: any free one), stopped on leaving."""
    from kubelab.core.errors import KubelabError

    handler = functools.partial(QuietHandler, directory=str(path))
    try:
        server = QuietServer(("127.0.0.1", port), handler)
    except OSError as e:
        raise KubelabError(
            f"cannot serve the site on 127.0.0.1:{port}: {e.strerror}",
            "choose another port with --port N (0: any free one)",
        ) from None
    thread = threading.Thread(target=server.serve_forever, name="kubelab-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
