"""Query-protocol responses (IAM, STS): results and errors -> (status, headers, body) as XML.

A result is the dict botocore's parser gives back (model member names, ``datetime`` for timestamps,
``bytes`` for blobs), written in the order and with the names of the operation's output shape:

    <CreateUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
      <CreateUserResult><User>...</User></CreateUserResult>
      <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata>
    </CreateUserResponse>

(without the white space). Keys the shape does not know, and None values, are left out.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from botocore.model import OperationModel, Shape, StructureShape

from tumbler.wire import spec
from tumbler.wire.errors import WireError
from tumbler.wire.serialize import Headers
from tumbler.wire.validate import members

TEXT_XML = b"text/xml"
# A parser reads a raw \r as \n; as a reference it comes back whole (a Description may hold one).
_ENTITIES = {"\r": "&#13;"}
# Characters XML 1.0 cannot carry at all, not even as references: replaced, so a client can still parse
# the response (only an echoed value could hold one: the models' patterns keep them out of stored ones).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# IAM returns policy documents URL-encoded; botocore decodes members of this shape (json_decode_policies).
POLICY_DOCUMENT = "policyDocumentType"


def _text(value: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", value), _ENTITIES)


def iso8601(value: datetime) -> str:
    """A timestamp as IAM and STS write them: UTC, whole seconds, 'Z' (2024-05-01T12:30:15Z).

    A naive datetime is taken as UTC."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _scalar(shape: Shape, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso8601(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode("ascii")
    if shape.name == POLICY_DOCUMENT and isinstance(value, str):
        return quote(value, safe="")
    return str(value)


class _Writer:
    __slots__ = ("parts", "service")

    def __init__(self, service: str) -> None:
        self.service = service
        self.parts: list[str] = []

    def element(self, name: str, shape: Shape, value: Any) -> None:
        kind = shape.type_name
        if kind == "list" and shape.serialization.get("flattened"):
            for item in value:  # no wrapper: the items repeat under the member's name
                self.element(name, shape.member, item)
            return
        if kind == "map" and shape.serialization.get("flattened"):
            for key, item in value.items():
                self.parts.append(f"<{name}>")
                self.entry(shape, key, item)
                self.parts.append(f"</{name}>")
            return
        self.parts.append(f"<{name}>")
        if kind == "structure":
            self.structure(shape, value)
        elif kind == "list":
            label = shape.member.serialization.get("name", "member")
            for item in value:
                self.element(label, shape.member, item)
        elif kind == "map":
            for key, item in value.items():
                self.parts.append("<entry>")
                self.entry(shape, key, item)
                self.parts.append("</entry>")
        else:
            self.parts.append(_text(_scalar(shape, value)))
        self.parts.append(f"</{name}>")

    def entry(self, shape: Shape, key: str, value: Any) -> None:
        self.element(shape.key.serialization.get("name", "key"), shape.key, key)
        self.element(shape.value.serialization.get("name", "value"), shape.value, value)

    def structure(self, shape: StructureShape, value: dict[str, Any]) -> None:
        for member in members(self.service, shape):
            item = value.get(member.name)
            if item is not None:
                self.element(_element_name(member.shape, member.wire), member.shape, item)


def _element_name(shape: Shape, name: str) -> str:
    """A member's element; a flattened list with a named member repeats under the member's name."""
    if shape.type_name == "list" and shape.serialization.get("flattened"):
        return str(shape.member.serialization.get("name", name))
    return name


def _headers(request_id: str) -> Headers:
    return [(b"content-type", TEXT_XML), (b"x-amzn-requestid", request_id.encode())]


def query_response(op: OperationModel, result: dict[str, Any], request_id: str) -> tuple[int, Headers, bytes]:
    """The 200 response to ``op``: its result inside ``<{Action}Result>``, then the request ID.

    An operation with no output shape answers with the ResponseMetadata alone."""
    service = op.service_model.service_name
    namespace = quoteattr(op.service_model.metadata["xmlNamespace"])
    writer = _Writer(service)
    writer.parts.append(f"<{op.name}Response xmlns={namespace}>")
    shape = op.output_shape
    if shape is not None:  # the wrapper is there even when empty: botocore looks for it
        writer.element(shape.serialization.get("resultWrapper", f"{op.name}Result"), shape, result)
    writer.parts.append(f"<ResponseMetadata><RequestId>{_text(request_id)}</RequestId></ResponseMetadata>")
    writer.parts.append(f"</{op.name}Response>")
    return 200, _headers(request_id), "".join(writer.parts).encode("utf-8")


def query_error(service: str, err: WireError, request_id: str) -> tuple[int, Headers, bytes]:
    """``err`` as IAM and STS send errors: ``<ErrorResponse><Error><Type>Sender</Type><Code>...``.

    ``Type`` is Receiver for a server fault (5xx). An empty message is left out; extra fields follow
    the message inside ``<Error>``."""
    namespace = quoteattr(spec.load(service).metadata["xmlNamespace"])
    kind = "Receiver" if err.status >= 500 else "Sender"
    parts = [f"<ErrorResponse xmlns={namespace}><Error><Type>{kind}</Type><Code>{_text(err.code)}</Code>"]
    if err.message:
        parts.append(f"<Message>{_text(err.message)}</Message>")
    parts.extend(f"<{name}>{_text(str(value))}</{name}>" for name, value in err.fields.items())
    parts.append(f"</Error><RequestId>{_text(request_id)}</RequestId></ErrorResponse>")
    return err.status, _headers(request_id), "".join(parts).encode("utf-8")
