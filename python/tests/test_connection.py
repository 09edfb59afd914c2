"""Where a worker's NATS settings come from: the node's pipe, flags, the environment, the URL."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dspex_worker.connection import (
    ConnectionConfigError,
    read_handoff,
    resolve,
    split_urls,
    take_secret_env,
)

NO_FLAGS: dict[str, str | None] = {}


def test_lifts_credentials_out_of_urls_and_uses_them_as_options() -> None:
    s = resolve(nats_flag="nats://worker:p%40ss@h1:4222,nats://worker:p%40ss@h2:4222", env={}, secret_env={},
                flags=NO_FLAGS, handoff=None)
    assert s.servers == ("nats://h1:4222", "nats://h2:4222")
    kwargs = s.connect_kwargs()
    assert (kwargs["user"], kwargs["password"], kwargs["inbox_prefix"]) == ("worker", "p@ss", "_INBOX_worker")
    assert "p@ss" not in repr(s)


def test_the_nodes_handoff_wins_and_is_read_once_from_the_pipe() -> None:
    r, w = os.pipe()
    os.write(w, json.dumps({"user": "worker", "password": "pw", "tls_ca": "/ca.pem",
                            "inbox_prefix": "_INBOX_w2", "worker_key": "ab" * 32}).encode())
    os.close(w)
    handoff = read_handoff(r)
    with pytest.raises(OSError):
        os.fstat(r)  # closed after reading
    s = resolve(nats_flag="nats://h:4222", env={"DSPEX_NATS_TOKEN": "env-token"}, secret_env={},
                flags={"nkey_seed_file": "/flag.nk"}, handoff=handoff)
    assert (s.user, s.password, s.token, s.nkey_seed_file) == ("worker", "pw", None, None)
    assert (s.tls_ca, s.inbox_prefix) == ("/ca.pem", "_INBOX_w2")


def test_reads_login_from_the_environment_and_removes_the_secret_entries() -> None:
    environ = {"DSPEX_NATS_URL": "nats://u:secret@h:4222", "DSPEX_NATS_PASSWORD": "pw", "DSPEX_WORKER_KEY": "k",
               "DSPEX_NATS_USER": "worker", "PATH": "/bin"}
    taken = take_secret_env(environ)
    assert environ == {"DSPEX_NATS_USER": "worker", "PATH": "/bin"}
    assert set(taken) == {"DSPEX_NATS_URL", "DSPEX_NATS_PASSWORD", "DSPEX_WORKER_KEY"}
    # Credentials in the URL beat the environment's login.
    s = resolve(nats_flag=None, env=environ, secret_env=taken, flags=NO_FLAGS, handoff=None)
    assert (s.servers, s.user, s.password) == (("nats://h:4222",), "u", "secret")
    taken.pop("DSPEX_NATS_URL")
    s = resolve(nats_flag="nats://h:4222", env=environ, secret_env=taken, flags=NO_FLAGS, handoff=None)
    assert (s.user, s.password) == ("worker", "pw")


def test_flags_read_secrets_from_files(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("file-pw\n")
    (tmp_path / "tok").write_text("file-token\n")
    s = resolve(nats_flag="nats://h:4222", env={}, secret_env={"DSPEX_NATS_TOKEN": "env"}, handoff=None,
                flags={"nats_user": "worker", "nats_password_file": str(tmp_path / "pw")})
    assert (s.user, s.password, s.token) == ("worker", "file-pw", None)
    s = resolve(nats_flag="nats://h:4222", env={}, secret_env={}, handoff=None,
                flags={"nats_token_file": str(tmp_path / "tok")})
    assert s.token == "file-token"
    with pytest.raises(ConnectionConfigError, match="--nats-password-file: cannot read"):
        resolve(nats_flag=None, env={}, secret_env={}, handoff=None,
                flags={"nats_user": "w", "nats_password_file": str(tmp_path / "missing")})


@pytest.mark.parametrize(("flags", "message"), [
    ({"tls_cert": "/c.pem"}, "--tls-cert and --tls-key go together"),
    ({"inbox_prefix": "_INBOX.>"}, "inbox prefix"),
    ({"inbox_prefix": "has space"}, "inbox prefix"),
])
def test_refuses_bad_settings_naming_them(flags: dict[str, str | None], message: str) -> None:
    with pytest.raises(ConnectionConfigError, match=message):
        resolve(nats_flag=None, env={}, secret_env={}, flags=flags, handoff=None)


def test_refuses_a_handoff_that_is_not_a_json_object_of_strings() -> None:
    for payload in (b"[1]", b"{\"a\": 1}", b"not json"):
        r, w = os.pipe()
        os.write(w, payload)
        os.close(w)
        with pytest.raises(ConnectionConfigError, match="--secrets-fd"):
            read_handoff(r)


@settings(max_examples=200, deadline=None)
@given(user=st.text(min_size=1, max_size=20).filter(lambda u: ":" not in u),
       password=st.text(max_size=20), hosts=st.lists(st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True),
                                                    min_size=1, max_size=3))
def test_url_credentials_round_trip(user: str, password: str, hosts: list[str]) -> None:
    from urllib.parse import quote
    creds = f"{quote(user, safe='')}:{quote(password, safe='')}"
    servers, found = split_urls(",".join(f"nats://{creds}@{h}:4222" for h in hosts), "--nats")
    assert servers == tuple(f"nats://{h}:4222" for h in hosts)
    assert found == {"user": user, "password": password}
