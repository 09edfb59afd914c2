"""How a worker reaches NATS: servers, login, TLS, inbox prefix, and where each comes from.

Nothing secret is read from the command line. A node hands its local workers their login and worker
key as one JSON object on a pipe (``--secrets-fd 3``) that is read once and closed. A worker started
by hand reads ``DSPEX_NATS_*`` from its environment (the secret ones are removed from ``os.environ``
once read, so nothing the worker runs inherits them) or files named by flags. Credentials written
in a ``--nats`` URL still work, with a warning: the process list shows every process's argv.
"""

from __future__ import annotations

import json
import logging
import os
import re
import ssl
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

log = logging.getLogger(__name__)

DEFAULT_INBOX_PREFIX = "_INBOX_worker"
_INBOX_PREFIX = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
_WITH_CREDENTIALS = re.compile(r"^([a-z][a-z0-9+.-]*://)?([^@/]*)@(.+)$", re.IGNORECASE)

# Environment entries that hold secrets: read, then removed from this process's environment.
SECRET_ENV = ("DSPEX_NATS_PASSWORD", "DSPEX_NATS_TOKEN", "DSPEX_WORKER_KEY")


class ConnectionConfigError(ValueError):
    """A connection setting that cannot be used; the message names where it came from."""


@dataclass(frozen=True)
class NatsSettings:
    """Everything ``nats.connect`` needs besides callbacks. Secrets are kept out of ``repr``."""

    servers: tuple[str, ...]
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    nkey_seed_file: str | None = None
    creds_file: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    inbox_prefix: str = DEFAULT_INBOX_PREFIX

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``nats.connect``: credentials as options, so they apply to every
        server of the cluster (the ones it advertises too), not only to a URL that carried them."""
        kwargs: dict[str, Any] = {"servers": list(self.servers), "inbox_prefix": self.inbox_prefix}
        if self.user is not None:
            kwargs["user"] = self.user
            kwargs["password"] = self.password or ""
        if self.token is not None:
            kwargs["token"] = self.token
        if self.nkey_seed_file is not None:
            kwargs["nkeys_seed"] = self.nkey_seed_file
        if self.creds_file is not None:
            kwargs["user_credentials"] = self.creds_file
        tls = self.tls_context()
        if tls is not None:
            kwargs["tls"] = tls
        return kwargs

    def tls_context(self) -> ssl.SSLContext | None:
        """A TLS context when any TLS file is set or a server URL is ``tls://``; else None."""
        wants = any(s.lower().startswith("tls://") for s in self.servers)
        if not (wants or self.tls_ca or self.tls_cert):
            return None
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.tls_ca)
        if self.tls_cert:
            ctx.load_cert_chain(self.tls_cert, self.tls_key)
        return ctx

    def logins(self) -> list[str]:
        methods = []
        if self.user is not None:
            methods.append("user/password")
        if self.token is not None:
            methods.append("token")
        if self.nkey_seed_file is not None:
            methods.append("nkey seed")
        if self.creds_file is not None:
            methods.append("creds file")
        return methods


def split_urls(text: str, source: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """Comma-separated URLs → URLs without credentials, and the credentials they carried
    (``user:pass@`` → user and password, ``secret@`` → token; one list carries one set)."""
    urls = [u.strip() for u in text.split(",") if u.strip()]
    if not urls:
        raise ConnectionConfigError(f"{source}: expected one or more NATS URLs")
    servers: list[str] = []
    creds: dict[str, str] = {}
    seen: str | None = None
    for url in urls:
        m = _WITH_CREDENTIALS.match(url)
        if m is None:
            servers.append(url)
            continue
        scheme, credentials, rest = m.group(1) or "", m.group(2), m.group(3)
        if seen is not None and seen != credentials:
            raise ConnectionConfigError(f"{source}: the URLs carry different credentials")
        seen = credentials
        servers.append(scheme + rest)
        user, sep, password = credentials.partition(":")
        if sep:
            creds = {"user": unquote(user), "password": unquote(password)}
        else:
            creds = {"token": unquote(credentials)}
    return tuple(servers), creds


def _read_first_line(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.readline().strip()
    except OSError as exc:
        raise ConnectionConfigError(f"{what}: cannot read {path}: {exc.strerror}") from None


def read_handoff(fd: int) -> dict[str, str]:
    """The JSON object a node writes on ``fd`` (read to EOF, then closed)."""
    chunks = []
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError as exc:
        raise ConnectionConfigError(f"--secrets-fd {fd}: cannot read: {exc.strerror}") from None
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    try:
        body = json.loads(b"".join(chunks) or b"{}")
    except ValueError:
        raise ConnectionConfigError(f"--secrets-fd {fd}: not a JSON object") from None
    if not isinstance(body, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in body.items()):
        raise ConnectionConfigError(f"--secrets-fd {fd}: expected a JSON object of strings")
    return body


def take_secret_env(environ: MutableMapping[str, str]) -> dict[str, str]:
    """Reads and removes the secret ``DSPEX_*`` entries (and a credentialed ``DSPEX_NATS_URL``)."""
    found = {name: environ.pop(name) for name in SECRET_ENV if environ.get(name)}
    url = environ.get("DSPEX_NATS_URL", "")
    if "@" in url:
        found["DSPEX_NATS_URL"] = environ.pop("DSPEX_NATS_URL")
    return found


def resolve(
    *,
    nats_flag: str | None,
    env: Mapping[str, str],
    secret_env: Mapping[str, str],
    flags: Mapping[str, str | None],
    handoff: Mapping[str, str] | None,
) -> NatsSettings:
    """The worker's settings. Strongest first: the node's handoff; flags; the environment (the
    secret entries already taken out of it into ``secret_env``); credentials inside the URL."""
    if nats_flag is not None:
        url_text, url_source = nats_flag, "--nats"
    elif secret_env.get("DSPEX_NATS_URL") or env.get("DSPEX_NATS_URL"):
        url_text, url_source = secret_env.get("DSPEX_NATS_URL") or env["DSPEX_NATS_URL"], "DSPEX_NATS_URL"
    else:
        url_text, url_source = "nats://127.0.0.1:4222", "--nats"
    servers, url_creds = split_urls(url_text, url_source)
    url_creds_given = bool(url_creds)
    if url_creds_given and url_source == "--nats" and handoff is None:
        log.warning("credentials in --nats are visible in the process list: use DSPEX_NATS_USER/"
                    "DSPEX_NATS_PASSWORD, DSPEX_NATS_TOKEN or --nkey-seed-file instead")

    def env_value(name: str) -> str | None:
        return secret_env.get(name) or env.get(name) or None

    # Each layer gives a login (replacing the one before it as a whole) and other settings.
    login: dict[str, str | None] = {k: url_creds.get(k) for k in ("user", "password", "token")}
    other: dict[str, str] = {}

    def layer(new_login: Mapping[str, str | None], new_other: Mapping[str, str | None]) -> None:
        nonlocal login
        if any(v is not None for v in new_login.values()):
            login = dict(new_login)
        other.update({k: v for k, v in new_other.items() if v is not None})

    env_login = {
        "user": env_value("DSPEX_NATS_USER"), "password": env_value("DSPEX_NATS_PASSWORD"),
        "token": env_value("DSPEX_NATS_TOKEN"), "nkey_seed_file": env_value("DSPEX_NATS_NKEY_SEED_FILE"),
        "creds_file": env_value("DSPEX_NATS_CREDS_FILE"),
    }
    if not any(v is not None for v in login.values()):  # credentials in the URL beat the environment's
        layer(env_login, {})
    layer({}, {
        "tls_ca": env_value("DSPEX_NATS_TLS_CA"), "tls_cert": env_value("DSPEX_NATS_TLS_CERT"),
        "tls_key": env_value("DSPEX_NATS_TLS_KEY"), "inbox_prefix": env_value("DSPEX_NATS_INBOX_PREFIX"),
    })

    flag_login: dict[str, str | None] = {}
    if flags.get("nats_user") is not None:
        flag_login["user"] = flags["nats_user"]
        password_file = flags.get("nats_password_file")
        if password_file is not None:
            flag_login["password"] = _read_first_line(password_file, "--nats-password-file")
        else:
            flag_login["password"] = env_value("DSPEX_NATS_PASSWORD")
    token_file = flags.get("nats_token_file")
    if token_file is not None:
        flag_login["token"] = _read_first_line(token_file, "--nats-token-file")
    flag_login["nkey_seed_file"] = flags.get("nkey_seed_file")
    flag_login["creds_file"] = flags.get("creds")
    layer(flag_login, {k: flags.get(k) for k in ("tls_ca", "tls_cert", "tls_key", "inbox_prefix")})

    if handoff is not None:
        layer({k: handoff.get(k) for k in ("user", "password", "token", "nkey_seed_file", "creds_file")},
              {k: handoff.get(k) for k in ("tls_ca", "tls_cert", "tls_key", "inbox_prefix")})
    settings = NatsSettings(
        servers=servers,
        user=login.get("user"), password=login.get("password"), token=login.get("token"),
        nkey_seed_file=login.get("nkey_seed_file"), creds_file=login.get("creds_file"),
        tls_ca=other.get("tls_ca"), tls_cert=other.get("tls_cert"), tls_key=other.get("tls_key"),
        inbox_prefix=other.get("inbox_prefix", DEFAULT_INBOX_PREFIX),
    )
    return validate(settings)


def validate(s: NatsSettings) -> NatsSettings:
    if len(s.logins()) > 1:
        raise ConnectionConfigError(f"give one way to log in to NATS, not {' and '.join(s.logins())}")
    if (s.tls_cert is None) != (s.tls_key is None):
        raise ConnectionConfigError("--tls-cert and --tls-key go together")
    if not _INBOX_PREFIX.match(s.inbox_prefix) or len(s.inbox_prefix) > 128:
        raise ConnectionConfigError(
            f"inbox prefix: expected subject tokens ([A-Za-z0-9_-]) joined by '.', got {s.inbox_prefix[:80]!r}")
    return s
