"""CURVE keys: generation, the dispatcher's allow-list with key -> client-id binding, client setup.

Key layout written by `generate_keys` (and `fctwin keys generate`)::

    DIR/server/dispatcher.key          dispatcher public key (give it to every robot)
    DIR/server/dispatcher.key_secret   dispatcher secret key (stays on the dispatcher host)
    DIR/allowed/T-07.key               allow-list: one public key per client, file stem = client id
    DIR/clients/T-07.key_secret        the client's key pair (copy it onto robot T-07 only)

The dispatcher binds each allowed public key to the client id named by its file stem: libzmq's ZAP
handler attaches that id as the ``User-Id`` property of every message on the connection, and the
dispatcher refuses any message whose claimed id differs (a client claiming another robot's id).
"""

from __future__ import annotations

import ipaddress
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from fctwin.network.protocol import MAX_ID_CHARS

log = logging.getLogger(__name__)

SERVER_NAME = "dispatcher"


class InsecureBindError(Exception):
    """Binding a non-loopback address without CURVE keys and without an explicit --insecure."""


@dataclass(frozen=True, kw_only=True)
class ServerKeys:
    """What a CURVE dispatcher needs: its key pair and the allow-list directory."""

    secret_file: Path  # .key_secret of the dispatcher
    allowed_dir: Path  # public .key files of allowed clients, stem = client id

    @classmethod
    def from_dir(cls, key_dir: str | Path) -> ServerKeys:
        d = Path(key_dir)
        return cls(secret_file=d / "server" / f"{SERVER_NAME}.key_secret", allowed_dir=d / "allowed")


@dataclass(frozen=True, kw_only=True)
class ClientKeys:
    """What a CURVE client needs: its own key pair and the dispatcher's public key."""

    secret_file: Path  # .key_secret of this client
    server_public_file: Path  # dispatcher's .key

    @classmethod
    def from_dir(cls, key_dir: str | Path, client_id: str) -> ClientKeys:
        d = Path(key_dir)
        return cls(
            secret_file=d / "clients" / f"{client_id}.key_secret",
            server_public_file=d / "server" / f"{SERVER_NAME}.key",
        )


def generate_keys(key_dir: str | Path, client_ids: list[str], *, overwrite: bool = False) -> list[Path]:
    """Create the dispatcher key pair (if missing) and one key pair per client id.

    Returns the files written. Raises FileExistsError for an existing client key unless
    ``overwrite`` (keys are identities: silently replacing one locks a robot out).
    """
    d = Path(key_dir)
    for sub in ("server", "allowed", "clients"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if not (d / "server" / f"{SERVER_NAME}.key_secret").exists():
        pub, sec = zmq.auth.create_certificates(d / "server", SERVER_NAME)
        Path(sec).chmod(0o600)
        written += [Path(pub), Path(sec)]
    for cid in client_ids:
        if not cid or len(cid) > MAX_ID_CHARS or "/" in cid or cid.startswith("."):
            raise ValueError(f"bad client id {cid!r}")
        secret = d / "clients" / f"{cid}.key_secret"
        if secret.exists() and not overwrite:
            raise FileExistsError(f"{secret} exists (use --overwrite to replace)")
        pub, sec = zmq.auth.create_certificates(d / "clients", cid, metadata={"client_id": cid})
        Path(sec).chmod(0o600)
        allowed = d / "allowed" / f"{cid}.key"
        shutil.copyfile(pub, allowed)
        Path(pub).unlink()  # the public half lives in allowed/ (and inside the .key_secret file)
        written += [allowed, Path(sec)]
    return written


def load_allow_list(allowed_dir: Path) -> dict[bytes, str]:
    """Public key (z85 bytes) -> client id, from the ``*.key`` files of the allow-list."""
    table: dict[bytes, str] = {}
    for path in sorted(allowed_dir.glob("*.key")):
        public, _ = zmq.auth.load_certificate(path)
        if public in table:
            raise ValueError(f"{path}: key already allowed for {table[public]!r}")
        table[public] = path.stem
    return table


class BindingAuthenticator(ThreadAuthenticator):
    """ZAP handler that admits allow-listed keys and names each connection by its bound id."""

    def __init__(self, context: zmq.Context, key_to_id: dict[bytes, str]) -> None:
        super().__init__(context)
        self._key_to_id = key_to_id

    def curve_user_id(self, client_public_key: bytes) -> str:
        from zmq.utils import z85

        return self._key_to_id.get(z85.encode(client_public_key), "")


def start_authenticator(context: zmq.Context, keys: ServerKeys) -> tuple[BindingAuthenticator, set[str]]:
    """Start the ZAP thread for ``context``; returns it and the set of allowed client ids."""
    table = load_allow_list(keys.allowed_dir)
    auth = BindingAuthenticator(context, table)
    auth.start()
    auth.configure_curve(domain="*", location=str(keys.allowed_dir))
    return auth, set(table.values())


def apply_server_curve(sock: zmq.Socket, keys: ServerKeys) -> None:
    public, secret = zmq.auth.load_certificate(keys.secret_file)
    sock.curve_secretkey = secret
    sock.curve_publickey = public
    sock.curve_server = True


def apply_client_curve(sock: zmq.Socket, keys: ClientKeys) -> None:
    public, secret = zmq.auth.load_certificate(keys.secret_file)
    server_public, _ = zmq.auth.load_certificate(keys.server_public_file)
    if secret is None:
        raise ValueError(f"{keys.secret_file} holds no secret key")
    sock.curve_secretkey = secret
    sock.curve_publickey = public
    sock.curve_serverkey = server_public


def is_loopback_endpoint(endpoint: str) -> bool:
    """True for ipc://, inproc:// and tcp:// endpoints on a loopback address."""
    parts = urlsplit(endpoint)
    if parts.scheme in ("ipc", "inproc"):
        return True
    host = (parts.hostname or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # '*', an interface name or a host name: may be reachable from outside


def check_bind_allowed(endpoint: str, *, keys: ServerKeys | None, insecure: bool) -> None:
    """Refuse a plaintext bind reachable from other hosts unless ``insecure`` was asked for."""
    if keys is None and not insecure and not is_loopback_endpoint(endpoint):
        raise InsecureBindError(
            f"refusing to bind {endpoint} without CURVE keys: pass --keys DIR (see `fctwin keys generate`) "
            "or --insecure to accept unauthenticated robots"
        )
