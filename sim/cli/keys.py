"""`fctwin keys generate`: CURVE key pairs for the dispatcher and an allow-list of robots.

    fctwin keys generate --dir keys/ --ids T-07,T-08,fleet-host

writes ``keys/server/dispatcher.key(_secret)``, ``keys/allowed/<id>.key`` (the dispatcher's
allow-list: each public key is bound to the id in its file name) and
``keys/clients/<id>.key_secret`` (copy onto that robot only). See `fctwin.network.security`.
"""

from __future__ import annotations

import argparse

from fctwin.network.security import MAX_ID_CHARS, generate_keys
from fctwin.sim.cli import args as types


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("keys", help="CURVE keys for the dispatcher and robots")
    sub = parser.add_subparsers(dest="keys_command", metavar="ACTION")
    sub.required = True
    gen = sub.add_parser("generate", help="create the dispatcher key pair and one key pair per robot id")
    gen.add_argument("--dir", type=types.folder, required=True, help="key directory (created if missing)")
    gen.add_argument("--ids", required=True, help="comma-separated robot/client ids, e.g. T-07,T-08")
    gen.add_argument("--overwrite", action="store_true", help="replace existing client keys")
    gen.set_defaults(func=_generate)


def _generate(args: argparse.Namespace) -> int:
    from fctwin.sim.cli import UsageError

    ids = [s.strip() for s in args.ids.split(",") if s.strip()]
    if not ids:
        raise UsageError("--ids names no client")
    if len(set(ids)) != len(ids):
        raise UsageError("--ids names a client twice")
    for cid in ids:  # before any folder or key is created
        if len(cid) > MAX_ID_CHARS or "/" in cid or "\\" in cid or cid.startswith("."):
            raise UsageError(
                f"--ids: bad client id {cid!r} (at most {MAX_ID_CHARS} characters, no '/', not '.x')"
            )
    try:
        written = generate_keys(args.dir, ids, overwrite=args.overwrite)
    except (ValueError, FileExistsError) as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"--dir {args.dir}: {exc.strerror}") from None
    for path in written:
        print(path)
    return 0
