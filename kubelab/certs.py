"""Read X.509 certificates found on nodes (kubelet client and serving certificates, the CA)."""

import base64
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Certificate:
    subject: dict[str, list[str]]     # e.g. {"CN": ["system:node:kind-worker"], "O": ["system:nodes"]}
    issuer: dict[str, list[str]]
    not_after: datetime
    is_ca: bool
    self_signed: bool

    def __str__(self) -> str:
        def show(name):
            return ", ".join(f"{k}={v}" for k, vs in name.items() for v in vs)
        return f"subject: {show(self.subject)}\nissuer:  {show(self.issuer)}\nvalid until {self.not_after:%Y-%m-%d}"


def read(pem: str | bytes) -> Certificate:
    """The first certificate in PEM text (a file may also hold the key)."""
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID, NameOID

    if isinstance(pem, str):
        pem = pem.encode()
    cert = x509.load_pem_x509_certificates(pem)[0]
    short = {NameOID.COMMON_NAME: "CN", NameOID.ORGANIZATION_NAME: "O"}

    def names(name) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for attr in name:
            out.setdefault(short.get(attr.oid, attr.oid._name), []).append(attr.value)
        return out

    try:
        is_ca = cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    return Certificate(names(cert.subject), names(cert.issuer), cert.not_valid_after_utc, is_ca,
                       cert.subject == cert.issuer)


def from_base64(data: str) -> str:
    """certificate-authority-data in a kubeconfig is base64 of the PEM text."""
    return base64.b64decode(data).decode()


@dataclass(frozen=True)
class Verification:
    trusted: bool
    detail: str          # the certificate's subject when trusted, the TLS error when not


def verify_server(host: str, port: int, ca_pem: str, server_name: str, timeout: float = 10) -> Verification:
    """Connect to a TLS server and verify its certificate the way a client holding `ca_pem` does:
    signed by that CA and issued for `server_name` (the name the client dials). This is the check
    a node's kubelet makes of the API server with the CA in its kubelet.conf."""
    import socket
    import ssl

    context = ssl.create_default_context(cadata=ca_pem)   # only this CA, not the host's bundle
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=server_name) as tls:
                subject = dict(item[0] for item in tls.getpeercert()["subject"])
                return Verification(True, f"CN={subject.get('commonName')}")
    except ssl.SSLCertVerificationError as e:
        return Verification(False, e.verify_message or str(e))
