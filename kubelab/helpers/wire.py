"""What a server receives on the wire, for claims about what a client sends: a recorder container
that keeps the bytes of every connection it accepts, and parsers for an HTTP request's Host header
and a TLS ClientHello's server name (SNI).

    pod["spec"]["containers"].append(wire.recorder(BUSYBOX, http_port=8080, raw_port=9443))
    lab.exec("client", "curl -s http://alias/")                # through a Service to the recorder
    [wire.http_host(c) for c in wire.captures(lab, "server")]  # ["alias"]: the name the client used
    wire.clear(lab, "server")
    lab.exec("client", "curl -sk --max-time 2 https://alias:4443/", check=False)
    [wire.tls_server_name(c) for c in wire.captures(lab, "server")]   # ["alias"]

The recorder is busybox `nc -ll`: one process per connection, each writing what it received to a
file of its own under /rec. On `http_port` it reads the request's head and answers `200 ok`; on
`raw_port` it answers nothing and keeps everything until the client hangs up (a TLS client sends
its ClientHello first and then waits for the server's, so curl gives up after --max-time).
"""

from __future__ import annotations

import base64

_HTTP_REPLY = r"printf 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n'"
_READ_HEAD = (
    "read up _ < /proc/uptime; n=/rec/$up-$$; cr=$(printf '\\r'); "
    "while IFS= read -r line; do printf '%s\\n' \"$line\" >> $n; "
    "[ \"$line\" = \"$cr\" ] || [ -z \"$line\" ] && break; done; " + _HTTP_REPLY
)


def recorder(image: str, http_port: int = 8080, raw_port: int = 9443, name: str = "rec") -> dict:
    """A container (busybox image) that records every connection on its two ports under /rec."""
    script = (
        f"mkdir -p /rec; nc -ll -p {http_port} -e sh -c '{_shell_quote(_READ_HEAD)}' & "
        f"nc -ll -p {raw_port} -e sh -c 'read up _ < /proc/uptime; cat > /rec/$up-$$' & wait"
    )
    return {
        "name": name,
        "image": image,
        "command": ["sh", "-c", script],
        "ports": [
            {"name": "rec-http", "containerPort": http_port},
            {"name": "rec-raw", "containerPort": raw_port},
        ],
    }


def _shell_quote(text: str) -> str:
    """Text to go inside single quotes in a shell command."""
    return text.replace("'", "'\"'\"'")


def captures(lab, pod: str, container: str = "rec", namespace: str | None = None) -> list[bytes]:
    """The connections the recorder kept (since the last clear), oldest first."""
    out = lab.exec(
        pod,
        "cd /rec && for f in $(ls | sort -n); do echo $(base64 $f | tr -d '\\n'); done",
        container=container,
        namespace=namespace,
    )
    return [base64.b64decode(line) for line in str(out).split()]


def clear(lab, pod: str, container: str = "rec", namespace: str | None = None) -> None:
    """Forget the connections kept so far (a connection still open keeps writing its own file)."""
    lab.exec(pod, "rm -f /rec/*", container=container, namespace=namespace)


def http_host(raw: bytes) -> str | None:
    """The Host header of an HTTP/1 request's head (None if there is none)."""
    lines = raw.decode("latin-1").split("\n")
    for line in lines[1:]:
        line = line.rstrip("\r")
        if not line:
            break
        name, _, value = line.partition(":")
        if name.strip().lower() == "host":
            return value.strip()
    return None


def tls_server_name(raw: bytes) -> str | None:
    """The server name (SNI, RFC 6066) a TLS ClientHello asks for; None if the bytes are no
    complete ClientHello or it names no server."""
    try:
        if raw[0] != 0x16:  # a handshake record
            return None
        record_end = 5 + int.from_bytes(raw[3:5], "big")
        body = raw[5:record_end]
        if len(raw) < record_end or body[0] != 0x01:  # ClientHello
            return None
        at = 4 + 2 + 32  # type, length; version; random
        at += 1 + body[at]  # session id
        at += 2 + int.from_bytes(body[at : at + 2], "big")  # cipher suites
        at += 1 + body[at]  # compression methods
        end = at + 2 + int.from_bytes(body[at : at + 2], "big")
        at += 2
        while at + 4 <= end:
            kind, size = (
                int.from_bytes(body[at : at + 2], "big"),
                int.from_bytes(body[at + 2 : at + 4], "big"),
            )
            data = body[at + 4 : at + 4 + size]
            if kind == 0:  # server_name: list of (type, name)
                pos = 2
                while pos + 3 <= len(data):
                    name_type, length = data[pos], int.from_bytes(data[pos + 1 : pos + 3], "big")
                    if name_type == 0:
                        return data[pos + 3 : pos + 3 + length].decode("ascii")
                    pos += 3 + length
                return None
            at += 4 + size
    except (IndexError, UnicodeDecodeError):
        return None
    return None
