"""HTTPS for the server: a self-signed certificate for a first try, and uvicorn's TLS settings.

SigV4 signs a request but does not hide it: without TLS a secret value crosses the network in
clear, so the CLI refuses to listen beyond loopback without it (unless told ``--insecure-http``).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# The environment variable the function host passes on to functions as AWS_CA_BUNDLE.
CA_BUNDLE_VAR = "TUMBLER_CA_BUNDLE"
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
VALID_DAYS = 365
# TLS 1.2 suites with forward secrecy and AEAD only (TLS 1.3's suites are all of that kind already).
CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_self_signed(cert: Path, key: Path, names: tuple[str, ...] = LOCAL_NAMES) -> None:
    """Write a self-signed certificate for ``names`` (host names and IP addresses) and its key (mode 0600)."""
    private = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    alt_names: list[x509.GeneralName] = []
    for name in names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(private, hashes.SHA256())
    )
    key_bytes = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key_bytes)
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def is_self_signed(cert: Path) -> bool:
    """Whether the certificate names itself as its issuer: clients then need it as their CA bundle."""
    loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    return loaded.issuer == loaded.subject


def check_pair(cert: Path, key: Path) -> None:
    """Raise ``ValueError`` (one line) unless the files hold a certificate and its matching key."""
    import ssl

    for path in (cert, key):
        if not path.is_file():
            raise ValueError(f"{path}: no such file")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as err:
        raise ValueError(f"cannot use {cert} with {key} as a TLS certificate and key: {err.strerror or err}") from None


def uvicorn_options(cert: Path, key: Path) -> dict[str, Any]:
    """uvicorn's TLS settings: TLS 1.2 at least (Python's default floor) and only forward-secret AEAD suites."""
    return {"ssl_certfile": str(cert), "ssl_keyfile": str(key), "ssl_ciphers": CIPHERS}
