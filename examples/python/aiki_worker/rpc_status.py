"""The typed details of a refused call (grpc-status-details-bin), read without googleapis.

The server sends a google.rpc.Status { int32 code = 1; string message = 2; repeated Any details = 3 }
in the trailer; Debian's python3-grpcio comes without grpcio-status, so the few lines below read
field 3 straight from the wire format.
"""

from __future__ import annotations

from typing import TypeVar

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message

M = TypeVar("M", bound=Message)


def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def status_details(error: grpc.RpcError) -> list[any_pb2.Any]:
    """Every detail of the error's google.rpc.Status, as Any messages."""
    trailers = error.trailing_metadata() if isinstance(error, grpc.Call) else None
    raw = next((v for k, v in trailers or () if k == "grpc-status-details-bin"), None)
    if not raw:
        return []
    details, i = [], 0
    while i < len(raw):
        tag, i = _varint(raw, i)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            _, i = _varint(raw, i)
        elif wire == 2:
            length, i = _varint(raw, i)
            if field == 3:
                details.append(any_pb2.Any.FromString(raw[i : i + length]))
            i += length
        else:
            raise ValueError(f"unexpected wire type {wire} in google.rpc.Status")
    return details


def detail(error: grpc.RpcError, message_type: type[M]) -> M | None:
    """The error's detail of this type (e.g. error_details_pb2.LeaseLostDetail), if it has one."""
    for any_detail in status_details(error):
        if any_detail.Is(message_type.DESCRIPTOR):
            found = message_type()
            any_detail.Unpack(found)
            return found
    return None
