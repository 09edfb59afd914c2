"""Worker identity: signing heartbeats and replies with this worker's key (docs/security.md).

A worker's key is ``HMAC-SHA256(secret, "dspex-worker:" + id)``; only nodes hold the cluster secret,
a worker holds the key of its own id. It signs every heartbeat (``Dspex-Sig`` over the subject and
the body bytes; the body carries ``started_at`` and an increasing ``seq`` against replays) and every
reply (over the inbox it answers, its id, the error code and the body bytes; ``Dspex-Worker`` names
it). Nodes derive the key of the id a message claims and drop what does not verify. The formats are
checked against ``fixtures/identity/vectors.json`` by the TS and the Python suites.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from .connection import ConnectionConfigError

SIGNATURE_HEADER = "Dspex-Sig"
WORKER_HEADER = "Dspex-Worker"
_HEX_KEY = re.compile(r"^[0-9a-fA-F]{64}$")


def derive_key(secret: bytes, worker_id: str) -> bytes:
    """What a node computes; workers never hold ``secret`` (here for tests and the vectors)."""
    return hmac.new(secret, f"dspex-worker:{worker_id}".encode(), hashlib.sha256).digest()


class Signer:
    """Signs for one worker id with its key. Cheap: one HMAC per message, no other allocation."""

    __slots__ = ("_hb", "_reply", "worker_id")

    def __init__(self, worker_id: str, key: bytes) -> None:
        self.worker_id = worker_id
        self._hb = hmac.new(key, b"dspex-hb\n", hashlib.sha256)
        self._reply = hmac.new(key, b"dspex-reply\n", hashlib.sha256)

    def heartbeat(self, subject: str, body: bytes) -> str:
        h = self._hb.copy()
        h.update(subject.encode())
        h.update(b"\n")
        h.update(body)
        return h.hexdigest()

    def reply(self, reply_subject: str, code: str, body: bytes) -> str:
        h = self._reply.copy()
        h.update(f"{reply_subject}\n{self.worker_id}\n{code}\n".encode())
        h.update(body)
        return h.hexdigest()

    def reply_headers(self, reply_subject: str, body: bytes, headers: dict[str, str] | None = None) -> dict[str, str]:
        """``headers`` plus ``Dspex-Worker`` and ``Dspex-Sig`` for a reply with ``body`` on ``reply_subject``."""
        out = dict(headers or {})
        out[WORKER_HEADER] = self.worker_id
        out[SIGNATURE_HEADER] = self.reply(reply_subject, out.get("Nats-Service-Error-Code", ""), body)
        return out


def parse_key(text: str, source: str) -> bytes:
    text = text.strip()
    if not _HEX_KEY.match(text):
        raise ConnectionConfigError(f"{source}: expected a worker key of 64 hex digits")
    return bytes.fromhex(text)


def read_key_file(path: str) -> dict[str, bytes]:
    """A key file as ``dspex worker key`` prints it: ``ID KEY`` lines, or one bare key (id ``""``)."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]
    except OSError as exc:
        raise ConnectionConfigError(f"--worker-key-file: cannot read {path}: {exc.strerror}") from None
    keys: dict[str, bytes] = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 1:
            keys[""] = parse_key(parts[0], "--worker-key-file")
        elif len(parts) == 2:
            keys[parts[0]] = parse_key(parts[1], "--worker-key-file")
        else:
            raise ConnectionConfigError("--worker-key-file: expected lines of 'ID KEY'")
    return keys


def key_for(keys: dict[str, bytes], worker_id: str) -> bytes | None:
    """The key of ``worker_id`` in ``keys`` (a bare key serves any single worker)."""
    return keys.get(worker_id, keys.get(""))
