"""Worker identity: the signing formats match the shared vectors the TS suite checks too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dspex_worker.connection import ConnectionConfigError
from dspex_worker.identity import Signer, derive_key, key_for, parse_key, read_key_file

VECTORS = json.loads((Path(__file__).parents[2] / "fixtures" / "identity" / "vectors.json").read_text())


def test_matches_the_shared_vectors() -> None:
    secret = VECTORS["secret_utf8"].encode()
    for v in VECTORS["vectors"]:
        key = derive_key(secret, v["worker"])
        assert key.hex() == v["key"]
        signer = Signer(v["worker"], key)
        hb = v["heartbeat"]
        assert signer.heartbeat(hb["subject"], bytes.fromhex(hb["body_hex"])) == hb["sig"]
        for r in v["replies"]:
            headers = {"Nats-Service-Error-Code": r["code"]} if r["code"] else {}
            signed = signer.reply_headers(r["subject"], bytes.fromhex(r["body_hex"]), headers)
            assert signed["Dspex-Sig"] == r["sig"]
            assert signed["Dspex-Worker"] == v["worker"]


@settings(max_examples=200, deadline=None)
@given(
    worker=st.from_regex(r"[A-Za-z0-9_-]{1,30}", fullmatch=True),
    other=st.from_regex(r"[A-Za-z0-9_-]{1,30}", fullmatch=True),
    body=st.binary(max_size=200),
    subject=st.from_regex(r"_INBOX_node\.[A-Za-z0-9]{4,20}\.[0-9a-z]{1,4}", fullmatch=True),
)
def test_a_signature_binds_the_worker_the_inbox_and_the_body(
    worker: str, other: str, body: bytes, subject: str
) -> None:
    secret = b"python-test-cluster-secret-012345"
    signer = Signer(worker, derive_key(secret, worker))
    sig = signer.reply(subject, "", body)
    assert signer.reply(subject, "", body) == sig  # the precomputed prefix is not consumed
    assert signer.reply(subject + "x", "", body) != sig
    assert signer.reply(subject, "500", body) != sig
    assert signer.reply(subject, "", body + b"\0") != sig
    if other != worker:
        assert Signer(other, derive_key(secret, other)).reply(subject, "", body) != sig


def test_reads_key_files_as_dspex_worker_key_prints_them(tmp_path: Path) -> None:
    a, b = "a" * 64, "b" * 64
    (tmp_path / "two.key").write_text(f"w-0 {a}\nw-1 {b}\n")
    (tmp_path / "one.key").write_text(f"{a}\n")
    keys = read_key_file(str(tmp_path / "two.key"))
    assert key_for(keys, "w-1") == bytes.fromhex(b)
    assert key_for(keys, "w-9") is None
    assert key_for(read_key_file(str(tmp_path / "one.key")), "anyone") == bytes.fromhex(a)
    (tmp_path / "bad.key").write_text("w-0 not-hex\n")
    with pytest.raises(ConnectionConfigError, match="64 hex digits"):
        read_key_file(str(tmp_path / "bad.key"))
    with pytest.raises(ConnectionConfigError, match="DSPEX_WORKER_KEY: expected a worker key"):
        parse_key("abc", "DSPEX_WORKER_KEY")
