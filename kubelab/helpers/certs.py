"""Read X.509 certificates found on nodes (kubelet client and serving certificates, the CA)."""

import base64
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Certificate:
    subject: dict[str, list[str]]  # e.g. {"CN": ["system:node:kind-worker"], "O": ["system:nodes"]}
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
    return Certificate(
        names(cert.subject),
        names(cert.issuer),
        cert.not_valid_after_utc,
        is_ca,
        cert.subject == cert.issuer,
    )


def from_base64(data: str) -> str:
    """certificate-authority-data in a kubeconfig is base64 of the PEM text."""
    return base64.b64decode(data).decode()


@dataclass(frozen=True)
class Verification:
    trusted: bool
    detail: str  # the certificate's subject when trusted, the TLS error when not


def verify_server(
    host: str, port: int, ca_pem: str, server_name: str, timeout: float = 10
) -> Verification:
    """Connect to a TLS server and verify its certificate the way a client holding `ca_pem` does:
    signed by that CA and issued for `server_name` (the name the client dials). This is the check
    a node's kubelet makes of the API server with the CA in its kubelet.conf."""
    import socket
    import ssl

    context = ssl.create_default_context(cadata=ca_pem)  # only this CA, not the host's bundle
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=server_name) as tls:
                subject = dict(item[0] for item in tls.getpeercert()["subject"])
                return Verification(True, f"CN={subject.get('commonName')}")
    except ssl.SSLCertVerificationError as e:
        return Verification(False, e.verify_message or str(e))


@dataclass(frozen=True)
class Issued:
    ca_pem: str  # the throwaway CA's certificate: what a client trusts
    cert_pem: str  # the server's certificate, for `names`
    key_pem: str  # the server's private key


def issue(names: list[str], days: int = 1) -> Issued:
    """A throwaway CA and a server certificate it signed for `names` (DNS names, as subjectAltName),
    e.g. for a TLS Secret or a test server. Short-lived: it only has to outlive one run."""
    from datetime import timedelta, timezone

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(timezone.utc)

    def certificate(subject: str, key, issuer: str, signer, ca: bool, extra=()):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        for extension in extra:
            builder = builder.add_extension(extension, critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = certificate("kubelab throwaway CA", ca_key, "kubelab throwaway CA", ca_key, ca=True)
    server = certificate(
        names[0],
        server_key,
        "kubelab throwaway CA",
        ca_key,
        ca=False,
        extra=[x509.SubjectAlternativeName([x509.DNSName(n) for n in names])],
    )
    pem = serialization.Encoding.PEM
    return Issued(
        ca.public_bytes(pem).decode(),
        server.public_bytes(pem).decode(),
        server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    )
