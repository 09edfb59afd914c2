"""Types a signature may name besides the grammar's own: registered by the worker's operator, never the wire.

Call :func:`register_type` in a module named by ``DSPEX_TYPE_MODULES`` (comma-separated import paths
read from the worker's own environment and imported once, the way ``DSPEX_METRIC_MODULES`` works)::

    # acme_types.py, run with DSPEX_TYPE_MODULES=acme_types
    from pydantic import BaseModel
    from dspex_worker.type_registry import register_type

    class Address(BaseModel):
        street: str
        city: str

    register_type("Address", Address)   # signatures may now say `address: Address`

Kept free of DSPy so that message checks (``protocol``) can use the grammar cheaply.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Mapping

from .signature_types import GRAMMAR_WORDS, PYTHON_KEYWORDS

_REGISTRY: dict[str, type] = {}
_lock = threading.Lock()
_loaded = False
_version = 0


def register_type(name: str, cls: type) -> type:
    """Let signatures name ``cls`` as ``name``; returns ``cls``.

    ``name`` must be an ASCII identifier that is not a word of the grammar, a Python keyword or
    private (leading underscore); pydantic must be able to build a schema for ``cls`` (checked now,
    at start-up, rather than on the first request). Raises ValueError otherwise.
    """
    if not isinstance(name, str) or not name.isascii() or not name.isidentifier():
        raise ValueError(f"type name {name!r}: expected an ASCII identifier")
    if name in GRAMMAR_WORDS or name in PYTHON_KEYWORDS or name.startswith("_"):
        raise ValueError(f"type name {name!r} is a word of the signature grammar, a keyword or private")
    if not isinstance(cls, type):
        raise ValueError(f"type {name!r}: expected a class, got {type(cls).__name__}")
    from pydantic import TypeAdapter

    TypeAdapter(cls)
    global _version
    with _lock:
        _REGISTRY[name] = cls
        _version += 1
    return cls


def unregister_type(name: str) -> None:
    """Forget a registered type (tests)."""
    global _version
    with _lock:
        _REGISTRY.pop(name, None)
        _version += 1


def registered_types() -> Mapping[str, type]:
    """The registered types, after importing ``DSPEX_TYPE_MODULES`` once."""
    _load_configured_modules()
    return dict(_REGISTRY)


def version() -> int:
    """Changes whenever the registry does (part of the signature memo's key)."""
    return _version


def _load_configured_modules() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for path in filter(None, (p.strip() for p in os.environ.get("DSPEX_TYPE_MODULES", "").split(","))):
        importlib.import_module(path)
