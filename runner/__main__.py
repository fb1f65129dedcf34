"""nightshift-runner: the headless runner."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from typing import TYPE_CHECKING

from runner import __version__
from runner.endpoint import bootstrap_main
from runner.environment import default_data_dir

if TYPE_CHECKING:
    import ssl

# The rest of the runner (asyncio, websockets, the agents, the journal) is imported only once it is needed:
# `--ssh-bootstrap`, which the desktop runs over SSH on every reconnect of an ssh:// runner, and `--version` or
# `--fingerprint` then start in a fraction of the time.


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nightshift-runner",
        description="Run Nightshift's agent runner headless: agents keep running, views attach over WebSocket.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port to bind; 0 picks a free one (default 8765)")
    p.add_argument(
        "--data-dir",
        default=None,
        help="folder for the journal and token (default: $NIGHTSHIFT_DATA_DIR or the user data folder)",
    )
    p.add_argument(
        "--token-file",
        default=None,
        help="file holding the access token, created (mode 0600) if absent "
        "(default DATA_DIR/token; $NIGHTSHIFT_TOKEN takes precedence)",
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow binding an address other than loopback (needs TLS or --insecure)",
    )
    p.add_argument("--tls-cert", help="TLS certificate (PEM) for wss://")
    p.add_argument("--tls-key", help="TLS private key (PEM)")
    p.add_argument("--insecure", action="store_true", help="allow a non-loopback bind without TLS")
    p.add_argument(
        "--tls-self-signed",
        action="store_true",
        help="serve wss:// with a self-signed certificate kept in DATA_DIR/tls (made with openssl the first time); "
        "views confirm its fingerprint on first connection",
    )
    p.add_argument(
        "--fingerprint",
        action="store_true",
        help="print the SHA-256 fingerprint of the --tls-cert certificate (what views are asked to confirm) and exit",
    )
    p.add_argument(
        "--ssh-bootstrap",
        action="store_true",
        help="for the desktop, over SSH: start a runner in the background unless one is running for this data "
        "folder, then print its port and token as one JSON line and exit",
    )
    p.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="browser Origin allowed to connect (repeatable; none by default)",
    )
    p.add_argument("--agents", action="store_true", help="list the agent CLIs found on this machine and exit")
    p.add_argument("--log-level", default="WARNING", help="DEBUG, INFO, WARNING (default) or ERROR")
    p.add_argument("--version", action="version", version=f"nightshift-runner {__version__}")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    if args.ssh_bootstrap:
        return bootstrap_main(args.data_dir or default_data_dir(),
                              ["--token-file", args.token_file] if args.token_file else [])
    if args.agents:
        return _print_agents()
    from runner.tls import CertificateCreationError, self_signed_certificate

    if args.tls_self_signed:
        if args.tls_cert or args.tls_key:
            print("error: --tls-self-signed or --tls-cert and --tls-key, not both", file=sys.stderr)
            return 2
        try:
            args.tls_cert, args.tls_key = self_signed_certificate(args.data_dir or default_data_dir())
        except (CertificateCreationError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.fingerprint:
        kept = os.path.join(args.data_dir or default_data_dir(), "tls", "cert.pem")  # --tls-self-signed's
        return _print_fingerprint(args.tls_cert or (kept if os.path.exists(kept) else None))

    if not _is_loopback(args.host):
        if not args.allow_remote:
            print(
                f"error: {args.host} is not a loopback address; pass --allow-remote to bind it",
                file=sys.stderr,
            )
            return 2
        if not (args.tls_cert and args.tls_key) and not args.insecure:
            print("error: a non-loopback bind needs --tls-cert and --tls-key (or --tls-self-signed), or --insecure",
                  file=sys.stderr)
            return 2
    if bool(args.tls_cert) != bool(args.tls_key):
        print("error: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2

    import asyncio
    import ssl

    from runner.environment import token_from_env
    from runner.journal import JournalError
    from runner.logredact import redact_in_logs
    from runner.runner import TokenFileError, load_or_create_token

    data_dir = args.data_dir or default_data_dir()
    token = token_from_env()
    token_file = None
    if not token:
        token_file = args.token_file or os.path.join(data_dir, "token")
        try:
            token = load_or_create_token(token_file)
        except TokenFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"error: cannot read or create the token file {token_file}: {exc.strerror or exc}",
                  file=sys.stderr)
            return 2
    redact_in_logs(token)

    ssl_context = None
    if args.tls_cert:
        ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            ssl_context.load_cert_chain(args.tls_cert, args.tls_key)
        except (OSError, ssl.SSLError) as exc:
            print(f"error: cannot load the TLS certificate: {exc}", file=sys.stderr)
            return 2

    try:
        return asyncio.run(_serve(data_dir, token, token_file, args, ssl_context))
    except JournalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""), file=sys.stderr)
        return 1


async def _serve(
    data_dir: str, token: str, token_file: str | None, args: argparse.Namespace, ssl_context: ssl.SSLContext | None
) -> int:
    import asyncio
    import signal

    from runner.endpoint import ENDPOINT_FILE, remove_endpoint, write_endpoint
    from runner.runner import Runner, log_loop_exception
    from runner.tls import certificate_file_fingerprint

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(log_loop_exception)
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:  # Windows: KeyboardInterrupt ends asyncio.run instead
            pass
    runner = await Runner.start(
        data_dir, token, args.host, args.port, allowed_origins=args.allow_origin, ssl_context=ssl_context
    )
    fingerprint = certificate_file_fingerprint(args.tls_cert) if args.tls_cert else None
    # Views ask their user to confirm the fingerprint on first connection (trust on first use). It follows the
    # `listening on` line, which scripts read first, in the same write: a reader that stops after that line
    # must not make a later write fail.
    print(f"listening on {runner.url}"
          + (f"\nTLS certificate SHA-256 fingerprint: {fingerprint}" if fingerprint else ""), flush=True)
    # For `--ssh-bootstrap` (the desktop's SSH runners): where this runner listens, not its token.
    try:
        write_endpoint(data_dir, runner.server.host, runner.server.port, "wss" if ssl_context else "ws",
                       token_file, fingerprint)
    except OSError as exc:  # only SSH views need it; the runner serves without
        logging.getLogger("runner").warning("cannot write %s: %s", ENDPOINT_FILE, exc)
    try:
        await stop.wait()
    finally:
        try:
            unsaved = await runner.shutdown()
        finally:
            # Only now: while this process may still write the journal, a bootstrap must not start another runner.
            remove_endpoint(data_dir)
    if unsaved:
        print(f"error: {unsaved} events could not be saved (the journal could not be written)", file=sys.stderr)
        return 1
    return 0


def _print_fingerprint(cert: str | None) -> int:
    from runner.tls import certificate_file_fingerprint

    if not cert:
        print("error: --fingerprint needs --tls-cert (or --tls-self-signed)", file=sys.stderr)
        return 2
    try:
        print(certificate_file_fingerprint(cert))
    except (OSError, ValueError) as exc:
        print(f"error: cannot read the certificate {cert}: {exc}", file=sys.stderr)
        return 2
    return 0


def _print_agents() -> int:
    import asyncio

    from runner.agents import detect_agents

    for info in asyncio.run(detect_agents()):
        state = "available" if info.available else "not found"
        version = f" {info.version}" if info.version else ""
        where = f" ({info.path})" if info.path else ""
        reason = f": {info.reason}" if info.reason and not info.available else ""
        print(f"{info.name:<10} {state}{version}{where}{reason}")
        if info.warning:
            print(f"{'':<10} warning: {info.warning}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
