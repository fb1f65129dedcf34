"""TLS for `wss://`: the certificate's SHA-256 fingerprint, which a view pins on first use (like an SSH host key).

A self-signed certificate cannot be checked against any authority, so the user compares this fingerprint with the one
the desktop shows when it first connects; from then on the desktop refuses any other certificate for that runner.
"""

from __future__ import annotations

import hashlib
import re
import ssl

_PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate as `AB:CD:...`, the form `openssl x509 -noout -fingerprint -sha256` prints."""
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def same_fingerprint(a: str, b: str) -> bool:
    """Compare two fingerprints written with or without colons, in either case."""
    return a.replace(":", "").lower() == b.replace(":", "").lower()


def certificate_file_fingerprint(path: str) -> str:
    """The fingerprint of the first certificate in a PEM file (the server's own; a chain's CAs follow it)."""
    with open(path, encoding="ascii", errors="replace") as f:
        match = _PEM_CERTIFICATE.search(f.read())
    if match is None:
        raise ValueError(f"{path} holds no PEM certificate")
    return fingerprint(ssl.PEM_cert_to_DER_cert(match.group(0)))
