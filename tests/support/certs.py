"""Test TLS material: a throwaway CA, a server certificate for 127.0.0.1/localhost, a client one."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["TLSFiles", "make_certificates"]

_Key = ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class TLSFiles:
    """Paths of the PEM files, and SSL contexts built from them."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def server_context(self, require_client_cert: bool = True) -> ssl.SSLContext:
        """A server context; by default a client without a certificate from the CA is refused."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.ca))
        context.load_cert_chain(self.server_cert, self.server_key)
        context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_NONE
        return context

    def client_context(self, with_client_cert: bool = True) -> ssl.SSLContext:
        """A client context trusting the test CA, optionally presenting the client certificate."""
        context = ssl.create_default_context(cafile=str(self.ca))
        if with_client_cert:
            context.load_cert_chain(self.client_cert, self.client_key)
        return context


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: str, issuer: x509.Certificate | None, key: _Key) -> x509.CertificateBuilder:
    """Fields every certificate here shares: validity around now, serial, key identifiers."""
    now = datetime.datetime.now(datetime.timezone.utc)
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.subject if issuer else _name(subject))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    authority = issuer.public_key() if issuer else public
    return builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(authority),  # type: ignore[arg-type]
        critical=False,
    )


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
        encipher_only=False, decipher_only=False,
    )


def _make_ca() -> tuple[x509.Certificate, _Key]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder("runner test CA", None, key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _make_leaf(
    subject: str, ca: x509.Certificate, ca_key: _Key, usage: x509.ObjectIdentifier
) -> tuple[x509.Certificate, _Key]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(subject, ca, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if usage == ExtendedKeyUsageOID.SERVER_AUTH:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: _Key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, pem: bytes) -> Path:
    path.write_bytes(pem)
    return path


def make_certificates(folder: str | Path) -> TLSFiles:
    """Write ca.pem, server.pem, server.key, client.pem and client.key into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = _make_ca()
    server, server_key = _make_leaf("localhost", ca, ca_key, ExtendedKeyUsageOID.SERVER_AUTH)
    client, client_key = _make_leaf("test client", ca, ca_key, ExtendedKeyUsageOID.CLIENT_AUTH)
    return TLSFiles(
        ca=_write(folder / "ca.pem", _cert_pem(ca)),
        server_cert=_write(folder / "server.pem", _cert_pem(server)),
        server_key=_write(folder / "server.key", _key_pem(server_key)),
        client_cert=_write(folder / "client.pem", _cert_pem(client)),
        client_key=_write(folder / "client.key", _key_pem(client_key)),
    )
