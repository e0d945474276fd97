"""kubelab.helpers.wire: the Host header and the TLS server name a recorder saw (no cluster needed)."""

import base64

from kubelab.helpers import wire


def client_hello(server_name: str | None, extra_first: bool = True) -> bytes:
    """A TLS 1.2-style ClientHello record, optionally with an SNI extension (after another one)."""
    extensions = b""
    if extra_first:  # ec_point_formats before the server name: the parser must skip it
        extensions += (11).to_bytes(2, "big") + (2).to_bytes(2, "big") + b"\x01\x00"
    if server_name is not None:
        name = server_name.encode()
        entry = b"\x00" + len(name).to_bytes(2, "big") + name
        listed = len(entry).to_bytes(2, "big") + entry
        extensions += (0).to_bytes(2, "big") + len(listed).to_bytes(2, "big") + listed
    body = (
        b"\x03\x03"
        + bytes(32)
        + b"\x20"
        + bytes(32)  # version, random, session id
        + (4).to_bytes(2, "big")
        + b"\x13\x01\x13\x02"  # two cipher suites
        + b"\x01\x00"  # no compression
        + len(extensions).to_bytes(2, "big")
        + extensions
    )
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(handshake).to_bytes(2, "big") + handshake


def test_the_server_name_of_a_client_hello():
    assert wire.tls_server_name(client_hello("legacy")) == "legacy"
    assert (
        wire.tls_server_name(client_hello("secure.ns.svc.cluster.local", extra_first=False))
        == "secure.ns.svc.cluster.local"
    )


def test_no_server_name_when_there_is_none_or_the_bytes_are_no_client_hello():
    assert wire.tls_server_name(client_hello(None)) is None
    assert wire.tls_server_name(client_hello("legacy")[:40]) is None  # cut short
    assert wire.tls_server_name(b"GET / HTTP/1.1\r\nHost: legacy\r\n\r\n") is None
    assert wire.tls_server_name(b"") is None


def test_the_host_header_of_a_request_head():
    head = b"GET /hostname HTTP/1.1\r\nHost: legacy\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n"
    assert wire.http_host(head) == "legacy"
    assert wire.http_host(b"GET / HTTP/1.1\nhost:  web.ns:8080 \n\n") == "web.ns:8080"
    assert wire.http_host(b"GET / HTTP/1.0\r\n\r\nHost: body-not-head\r\n") is None
    assert wire.http_host(client_hello("legacy")) is None


def test_captures_decodes_each_connection_in_order_and_clear_removes_them():
    seen = []

    class Lab:
        def exec(self, pod, command, container=None, namespace=None):
            seen.append((pod, container, namespace, command))
            return (
                "\n".join(base64.b64encode(b).decode() for b in (b"first", b"\x16\x03\x01second"))
                + "\n"
            )

    assert wire.captures(Lab(), "server", namespace="other") == [b"first", b"\x16\x03\x01second"]
    assert seen[0][:3] == ("server", "rec", "other") and "sort -n" in seen[0][3]
    wire.clear(Lab(), "server", namespace="other")
    assert seen[1][:3] == ("server", "rec", "other") and seen[1][3] == "rm -f /rec/*"


def test_the_recorder_listens_on_both_ports():
    container = wire.recorder("busybox:1", http_port=8080, raw_port=9443)
    script = container["command"][2]
    assert "nc -ll -p 8080" in script and "nc -ll -p 9443" in script
    assert [p["containerPort"] for p in container["ports"]] == [8080, 9443]
