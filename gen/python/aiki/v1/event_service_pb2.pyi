from aiki.v1 import history_pb2 as _history_pb2
from aiki.v1 import run_pb2 as _run_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventTarget(_message.Message):
    __slots__ = ["reference", "run_id"]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    reference: _run_pb2.RunReference
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., reference: _Optional[_Union[_run_pb2.RunReference, _Mapping]] = ...) -> None: ...

class ListEventsRequest(_message.Message):
    __slots__ = ["event_name", "page_size", "page_token", "run_id"]
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    event_name: str
    page_size: int
    page_token: str
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., event_name: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListEventsResponse(_message.Message):
    __slots__ = ["events", "next_page_token"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_history_pb2.Event]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[_history_pb2.Event, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SendEventRequest(_message.Message):
    __slots__ = ["data", "event_name", "reference_id", "targets"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    data: _struct_pb2.Value
    event_name: str
    reference_id: str
    targets: _containers.RepeatedCompositeFieldContainer[EventTarget]
    def __init__(self, targets: _Optional[_Iterable[_Union[EventTarget, _Mapping]]] = ..., event_name: _Optional[str] = ..., data: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., reference_id: _Optional[str] = ...) -> None: ...

class SendEventResponse(_message.Message):
    __slots__ = ["deliveries"]
    class Delivery(_message.Message):
        __slots__ = ["duplicate", "event"]
        DUPLICATE_FIELD_NUMBER: _ClassVar[int]
        EVENT_FIELD_NUMBER: _ClassVar[int]
        duplicate: bool
        event: _history_pb2.Event
        def __init__(self, event: _Optional[_Union[_history_pb2.Event, _Mapping]] = ..., duplicate: bool = ...) -> None: ...
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    deliveries: _containers.RepeatedCompositeFieldContainer[SendEventResponse.Delivery]
    def __init__(self, deliveries: _Optional[_Iterable[_Union[SendEventResponse.Delivery, _Mapping]]] = ...) -> None: ...
