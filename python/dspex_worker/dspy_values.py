"""DSPy's own types as wire values: checked, built into real DSPy objects, and sent back.

One JSON form per type, the same as the node's (``src/signature/dspy-types.ts``, docs/signatures.md):

========================  ==================================================================
``dspy.Image``            an ``https``/``http``/``gs`` URL or a ``data:image/<type>;base64,`` URI
``dspy.Audio``            a ``data:audio/<format>;base64,`` URI
``dspy.File``             ``{file_data?: data URI, file_id?, filename?}`` (``file_data`` or ``file_id``)
``dspy.History``          ``{messages: [{<field>: value, ...}, ...]}``
``dspy.Tool``             ``{name, description?, parameters?: JSON schema}``
``dspy.ToolCalls``        ``{tool_calls: [{name, args: {...}}, ...]}``
``dspy.Code``             the code, a string
``dspy.Reasoning``        the reasoning text, a string
========================  ==================================================================

Building an object never reads a file or fetches a URL (DSPy 3.4's constructors do neither; a URL
goes to the LM provider as is), and a tool given as a value only describes a tool to the model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import dspy

from .tool_schema import clean_schema

MAX_MEDIA_URL_LENGTH = 8192
MAX_DATA_URI_LENGTH = 8 * 1024 * 1024
MAX_NAME_LENGTH = 256

_BASE64 = r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
_MIME_PART = r"[A-Za-z0-9.+-]+"
# The node's MEDIA_PATTERNS (src/signature/dspy-types.ts), ASCII only so that both engines agree.
_URL = re.compile(r"(?:https?|gs)://[^\x00-\x20\x7f/?#]+[^\x00-\x20\x7f]*", re.ASCII)
_IMAGE_DATA = re.compile(rf"data:image/{_MIME_PART};base64,{_BASE64}", re.ASCII)
_AUDIO_DATA = re.compile(rf"data:audio/({_MIME_PART});base64,({_BASE64})", re.ASCII)
_FILE_DATA = re.compile(rf"data:{_MIME_PART}/{_MIME_PART};base64,{_BASE64}", re.ASCII)
_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)

CLASSES: Mapping[str, type] = {
    "Image": dspy.Image, "Audio": dspy.Audio, "File": dspy.File, "History": dspy.History, "Tool": dspy.Tool,
    "ToolCalls": dspy.ToolCalls, "Code": dspy.Code, "Reasoning": dspy.Reasoning,
}
DESCRIPTIONS: Mapping[str, str] = {
    "Image": "image (URL or data:image URI)", "Audio": "audio (data:audio URI)",
    "File": "file ({file_data | file_id, filename?})", "History": "history ({messages: [...]})",
    "Tool": "tool ({name, description?, parameters?})", "ToolCalls": "tool calls ({tool_calls: [{name, args}]})",
    "Code": "string", "Reasoning": "string",
}


def name_of(ann: Any) -> str | None:
    """The ``dspy.<Name>`` an annotation is (``dspy.Code['java']`` is ``Code``), or None."""
    if not isinstance(ann, type):
        return None
    for name, cls in CLASSES.items():
        if ann is cls or (name == "Code" and issubclass(ann, dspy.Code)):
            return name
    return None


def _str_map(value: object) -> bool:
    return isinstance(value, Mapping) and all(isinstance(k, str) for k in value)


def _short_str(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= MAX_NAME_LENGTH


def fits(name: str, value: Any) -> bool:
    """Whether ``value`` is the wire form of ``dspy.<name>``."""
    if name in ("Code", "Reasoning"):
        return isinstance(value, str)
    if name == "Image":
        return isinstance(value, str) and (
            (len(value) <= MAX_MEDIA_URL_LENGTH and _URL.fullmatch(value) is not None)
            or (len(value) <= MAX_DATA_URI_LENGTH and _IMAGE_DATA.fullmatch(value) is not None))
    if name == "Audio":
        return isinstance(value, str) and len(value) <= MAX_DATA_URI_LENGTH and _AUDIO_DATA.fullmatch(value) is not None
    if not _str_map(value):
        return False
    if name == "File":
        # A key that is there holds a string (null is not "absent"), as the node's schema has it.
        data, file_id, filename = value.get("file_data"), value.get("file_id"), value.get("filename")
        return (set(value) <= {"file_data", "file_id", "filename"} and ("file_data" in value or "file_id" in value)
                and ("file_data" not in value or (isinstance(data, str) and len(data) <= MAX_DATA_URI_LENGTH
                                                  and _FILE_DATA.fullmatch(data) is not None))
                and ("file_id" not in value or _short_str(file_id))
                and ("filename" not in value or _short_str(filename)))
    if name == "History":
        messages = value.get("messages")
        return set(value) == {"messages"} and isinstance(messages, list | tuple) and all(map(_str_map, messages))
    if name == "Tool":
        tool_name, description, parameters = value.get("name"), value.get("description"), value.get("parameters")
        return (set(value) <= {"name", "description", "parameters"} and isinstance(tool_name, str)
                and _TOOL_NAME.fullmatch(tool_name) is not None
                and ("description" not in value or isinstance(description, str))
                and ("parameters" not in value or _str_map(parameters)))
    if name == "ToolCalls":
        calls = value.get("tool_calls")
        return set(value) == {"tool_calls"} and isinstance(calls, list | tuple) and all(
            _str_map(c) and set(c) == {"name", "args"} and _short_str(c["name"]) and _str_map(c["args"])
            for c in calls)
    return False


def _described_only(name: str) -> Any:
    def run(**_kwargs: Any) -> Any:
        raise RuntimeError(f"tool {name!r} was given as a value: it describes a tool to the model and does not run")

    return run


def to_dspy(ann: type, value: Any) -> Any:
    """The DSPy object for a checked wire ``value`` of DSPy type ``ann``."""
    name = name_of(ann)
    if name == "Image":
        return dspy.Image(url=value)
    if name == "Audio":
        match = _AUDIO_DATA.fullmatch(value)
        assert match is not None
        return dspy.Audio(data=match.group(2), audio_format=match.group(1).removeprefix("x-"))
    if name == "File":
        return dspy.File(**dict(value))
    if name == "History":
        return dspy.History(messages=[dict(m) for m in value["messages"]])
    if name == "Tool":
        parameters = clean_schema(value.get("parameters") or {})
        properties = parameters.get("properties")
        return dspy.Tool(_described_only(value["name"]), name=value["name"], desc=value.get("description") or "",
                         args=dict(properties) if isinstance(properties, Mapping) else {})
    if name == "ToolCalls":
        calls = [{"name": c["name"], "args": dict(c["args"])} for c in value["tool_calls"]]
        return dspy.ToolCalls.from_dict_list(calls)
    if name == "Code":
        return ann(code=value)
    if name == "Reasoning":
        return dspy.Reasoning(content=value)
    return value


def to_wire(value: Any) -> Any:
    """Outputs with DSPy objects in them, in the wire forms (anything else unchanged)."""
    if isinstance(value, dspy.Image):
        return value.url
    if isinstance(value, dspy.Audio):
        return f"data:audio/{value.audio_format};base64,{value.data}"
    if isinstance(value, dspy.File):
        return {k: getattr(value, k) for k in ("file_data", "file_id", "filename") if getattr(value, k) is not None}
    if isinstance(value, dspy.History):
        return {"messages": [to_wire(m) for m in value.messages]}
    if isinstance(value, dspy.ToolCalls):
        return {"tool_calls": [{"name": c.name, "args": to_wire(c.args)} for c in value.tool_calls]}
    if isinstance(value, dspy.Tool):
        return {"name": value.name, "description": value.desc or "",
                "parameters": {"type": "object", "properties": to_wire(value.args or {})}}
    if isinstance(value, dspy.Code):
        return value.code
    if isinstance(value, dspy.Reasoning):
        return value.content
    if isinstance(value, Mapping):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_wire(v) for v in value]
    return value
