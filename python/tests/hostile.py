"""What an attacker sends, and the secrets it must never get back.

``CANARIES`` go into the environment of the worker processes under test (names an operator would use
for NATS passwords), and one more into their command line (the NATS URL's password), so that a reply
quoting ``os.environ`` or ``sys.argv`` is caught by :func:`leaks`. The hypothesis strategies generate
the hostile and near-miss type strings of issue 9 (dotted names, calls, subscripts, look-alikes).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from hypothesis import strategies as st

_RUN = secrets.token_hex(6)
CANARIES: dict[str, str] = {
    "DSPEX_NODE_PASSWORD": f"canary-node-{_RUN}",
    "DSPEX_WORKER_PASSWORD": f"canary-worker-{_RUN}",
    "DSPEX_CLIENT_PASSWORD": f"canary-client-{_RUN}",
    "OPENAI_API_KEY": f"canary-key-{_RUN}",
}
ARGV_CANARY = f"canary-argv-{_RUN}"
"""The password in the worker's ``--nats`` URL (the server has no auth, so it is ignored there)."""
SECRETS: tuple[str, ...] = (*CANARIES.values(), ARGV_CANARY, _RUN)


def leaks(data: bytes | str | Any) -> list[str]:
    """Every secret (or the run's random part of one) found in ``data``."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes | bytearray) else str(data)
    return [s for s in SECRETS if s in text]


def url_with_canary(nats_url: str) -> str:
    return nats_url.replace("nats://", f"nats://dspex:{ARGV_CANARY}@", 1)


# --- hostile type strings -----------------------------------------------------------------------------

MODULES = ("os", "sys", "builtins", "pydantic", "typing", "subprocess", "importlib", "dspy", "dspex_worker",
           "json", "re", "pathlib", "socket", "posix", "__main__", "nats", "msgpack", "litellm", "inspect")
ATTRIBUTES = ("environ", "argv", "ImportString", "eval", "exec", "__import__", "__dict__", "__globals__",
              "modules", "path", "getenv", "environb", "orig_argv", "Popen", "system", "import_module",
              "ForwardRef", "Pattern", "settings", "__builtins__", "__class__", "__subclasses__", "cli", "lm",
              "worker", "opts", "nats_url", "SecretStr", "FilePath", "AnyUrl", "Json", "__loader__")
LOOKALIKES = ("оs", "ѕys", "ｏｓ", "os．environ", "ᴏs", "os\u200b", "environ\u00a0", "İnt", "ſtr", "ｉｎｔ")
# Names that only exist on a JavaScript object's prototype: a parser must not find them.
PROTOTYPE_NAMES = ("constructor", "toString", "__proto__", "valueOf", "hasOwnProperty", "isPrototypeOf",
                   "__defineGetter__", "toLocaleString", "propertyIsEnumerable")
SAFE_TYPES = ("str", "int", "float", "bool", "Any", "list[str]", "dict[str, int]", "Optional[int]",
              "Literal['a', 'b']", "int | None", "number[]", "string")

identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
# The dotted names the grammar allows (docs/signatures.md): never hostile.
ALLOWED_DOTTED = re.compile(r"dspy\.(?:Image|Audio|File|History|Tool|ToolCalls|Code|Reasoning)"
                            r"|typing\.(?:Any|Text|List|Dict|Tuple|Set|Optional|Union|Literal)")
dotted = st.builds(
    lambda parts: ".".join(parts),
    st.lists(st.one_of(st.sampled_from(MODULES), st.sampled_from(ATTRIBUTES), identifiers), min_size=2, max_size=4),
).filter(lambda name: not ALLOWED_DOTTED.fullmatch(name))
_call_arg = st.one_of(dotted, st.sampled_from(MODULES), st.just("'os.environ'"), st.just('"sys.argv"'))
calls = st.one_of(
    st.builds(lambda f, a: f"{f}({a})", st.sampled_from(
        ("typing.ForwardRef", "__import__", "eval", "getattr", "builtins.eval", "ForwardRef", "exec", "open",
         "importlib.import_module", "pydantic.ImportString")), _call_arg),
    st.builds(lambda m, a: f"__import__('{m}').{a}", st.sampled_from(MODULES), st.sampled_from(ATTRIBUTES)),
)
hostile_atoms = st.one_of(
    dotted, calls,
    st.sampled_from(("os.environ", "sys.argv", "builtins.eval", "__import__", "pydantic.ImportString",
                     "ImportString", "ForwardRef", "typing.ForwardRef('os.environ')", "os", "sys", "environ",
                     "argv", "SecretStr", "Json", "NoneType", "type", "object", "bytes", "frozenset",
                     "complex", "bytearray", "re.Pattern", "typing.Sequence[str]", "typing.ForwardRef",
                     "list.__class__", "str.__subclasses__", "dspy.Predict", "dspy.Type", "dspy.settings",
                     "dspy.adapters.types.Image", "dspy.Image.__class__")),
    st.sampled_from(LOOKALIKES), st.sampled_from(PROTOTYPE_NAMES),
)


def _wrap(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        inner,
        st.builds(lambda t: f"list[{t}]", inner),
        st.builds(lambda t: f"List[{t}]", inner),
        st.builds(lambda t: f"dict[str, {t}]", inner),
        st.builds(lambda t: f"Optional[{t}]", inner),
        st.builds(lambda t: f"Union[int, {t}]", inner),
        st.builds(lambda t: f"{t} | None", inner),
        st.builds(lambda t: f"int | {t}", inner),
        st.builds(lambda t: f"Literal[{t}]", inner),
        st.builds(lambda t: f"{t}[]", inner),
        st.builds(lambda t, a: f"{t}[{a}]", inner, st.sampled_from(("str", "'x'", "0", "os.environ"))),
        st.builds(lambda t: f"{t}.__class__", inner),
    )


hostile_types = st.recursive(hostile_atoms, _wrap, max_leaves=3)
"""A type expression containing at least one name that is not in the grammar."""


@st.composite
def hostile_signatures(draw: st.DrawFn) -> str:
    """A signature with one hostile type, on the input or the output side, among safe fields."""
    bad = draw(hostile_types)
    n_in, n_out = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    ins = [f"i{k}: {draw(st.sampled_from(SAFE_TYPES))}" for k in range(n_in)]
    outs = [f"o{k}: {draw(st.sampled_from(SAFE_TYPES))}" for k in range(n_out)]
    if draw(st.booleans()):
        ins.insert(draw(st.integers(0, len(ins))), f"q: {bad}")
        outs = outs or ["a"]
    else:
        outs.insert(draw(st.integers(0, len(outs))), f"a: {bad}")
        ins = ins or ["q"]
    return f"{', '.join(ins)} -> {', '.join(outs)}"


# --- a worker with secrets in its environment and command line -----------------------------------------

HOSTILE_POOL = "hostile"
HOSTILE_WORKER = "hostile-w1"


class HostileWorker:
    """One worker (forked from its own zygote) whose env and argv hold the canaries, plus a client."""

    def __init__(self, zygote: Any, client: Any, pid: int, prefix: str = "dspex") -> None:
        self.zygote = zygote
        self.client = client
        self.pid = pid
        self.own = f"{prefix}.pool.{HOSTILE_POOL}.{HOSTILE_WORKER}"
        self.pool = f"{prefix}.pool.{HOSTILE_POOL}"

    def rss_bytes(self) -> int:
        with open(f"/proc/{self.pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")
