"""kubelab.helpers.certs: a throwaway CA and server certificate, checked by a real TLS handshake."""

import socket
import ssl
import threading

from kubelab.helpers import certs


def test_an_issued_certificate_is_trusted_for_its_names_only(tmp_path):
    issued = certs.issue(["secure.example", "other.example"])
    (tmp_path / "cert.pem").write_text(issued.cert_pem)
    (tmp_path / "key.pem").write_text(issued.key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve():
        for _ in range(3):
            conn, _ = listener.accept()
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass  # the client refused our certificate: that is the point of one case

    threading.Thread(target=serve, daemon=True).start()

    assert certs.verify_server("127.0.0.1", port, issued.ca_pem, "secure.example").trusted
    assert certs.verify_server("127.0.0.1", port, issued.ca_pem, "other.example").trusted
    refused = certs.verify_server("127.0.0.1", port, issued.ca_pem, "legacy.example")
    assert not refused.trusted and "legacy.example" in refused.detail
    assert certs.read(issued.ca_pem).is_ca and not certs.read(issued.cert_pem).is_ca
