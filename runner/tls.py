"""TLS for `wss://`: the certificate's SHA-256 fingerprint, which a view pins on first use (like an SSH host key).

A self-signed certificate cannot be checked against any authority, so the user compares this fingerprint with the one
the desktop shows when it first connects; from then on the desktop refuses any other certificate for that runner.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess

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


class CertificateCreationError(Exception):
    """The self-signed certificate could not be made; the message says why."""


def self_signed_certificate(data_dir: str) -> tuple[str, str]:
    """(certificate, key) in DATA_DIR/tls, made with the system `openssl` the first time and kept: the fingerprint
    views have pinned stays the same across restarts. The key is readable by the owner only."""
    folder = os.path.join(data_dir, "tls")
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    if os.path.exists(cert) and os.path.exists(key):
        return cert, key
    openssl = shutil.which("openssl")
    if openssl is None:
        raise CertificateCreationError(
            "making a self-signed certificate needs the openssl command; install it, or give --tls-cert and --tls-key"
        )
    os.makedirs(folder, mode=0o700, exist_ok=True)
    tmp_cert, tmp_key = f"{cert}.{secrets.token_hex(4)}.tmp", f"{key}.{secrets.token_hex(4)}.tmp"
    # The key file exists, empty and 0600, before openssl writes the key into it.
    os.close(os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        done = subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-days", "3650", "-subj", f"/CN=nightshift-runner {socket.gethostname()[:40]}",
             "-keyout", tmp_key, "-out", tmp_cert],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            raise CertificateCreationError(f"openssl could not make a certificate: {done.stderr.strip()}")
        os.chmod(tmp_key, 0o600)
        # The key first: a certificate on disk always has its key.
        os.replace(tmp_key, key)
        os.replace(tmp_cert, cert)
    finally:
        for leftover in (tmp_cert, tmp_key):
            with contextlib.suppress(OSError):
                os.unlink(leftover)
    return cert, key
