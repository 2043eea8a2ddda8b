from aiki.v1 import payload_pb2 as _payload_pb2
from aiki.v1 import run_pb2 as _run_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

CHILD_WAIT_STATUS_FINISHED: ChildWaitStatus
CHILD_WAIT_STATUS_TIMED_OUT: ChildWaitStatus
CHILD_WAIT_STATUS_UNSPECIFIED: ChildWaitStatus
CHILD_WAIT_STATUS_WAITING: ChildWaitStatus
DESCRIPTOR: _descriptor.FileDescriptor
EVENT_WAIT_STATUS_RECEIVED: EventWaitStatus
EVENT_WAIT_STATUS_TIMED_OUT: EventWaitStatus
EVENT_WAIT_STATUS_UNSPECIFIED: EventWaitStatus
EVENT_WAIT_STATUS_WAITING: EventWaitStatus
SLEEP_STATUS_CANCELLED: SleepStatus
SLEEP_STATUS_COMPLETED: SleepStatus
SLEEP_STATUS_SLEEPING: SleepStatus
SLEEP_STATUS_UNSPECIFIED: SleepStatus
TASK_STATUS_AWAITING_RETRY: TaskStatus
TASK_STATUS_COMPLETED: TaskStatus
TASK_STATUS_FAILED: TaskStatus
TASK_STATUS_RUNNING: TaskStatus
TASK_STATUS_UNSPECIFIED: TaskStatus

class ChildRunRecord(_message.Message):
    __slots__ = ["child_run_id", "create_time", "key", "sequence", "workflow_name", "workflow_version_id"]
    CHILD_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_NAME_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    child_run_id: str
    create_time: _timestamp_pb2.Timestamp
    key: str
    sequence: int
    workflow_name: str
    workflow_version_id: str
    def __init__(self, key: _Optional[str] = ..., workflow_name: _Optional[str] = ..., workflow_version_id: _Optional[str] = ..., sequence: _Optional[int] = ..., child_run_id: _Optional[str] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ChildWaitRecord(_message.Message):
    __slots__ = ["awaited_status", "child_run_id", "child_status", "end_time", "failure", "output", "sequence", "start_time", "status", "timeout"]
    AWAITED_STATUS_FIELD_NUMBER: _ClassVar[int]
    CHILD_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    CHILD_STATUS_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    awaited_status: _run_pb2.RunStatus
    child_run_id: str
    child_status: _run_pb2.RunStatus
    end_time: _timestamp_pb2.Timestamp
    failure: _payload_pb2.Failure
    output: _struct_pb2.Value
    sequence: int
    start_time: _timestamp_pb2.Timestamp
    status: ChildWaitStatus
    timeout: _duration_pb2.Duration
    def __init__(self, child_run_id: _Optional[str] = ..., sequence: _Optional[int] = ..., awaited_status: _Optional[_Union[_run_pb2.RunStatus, str]] = ..., status: _Optional[_Union[ChildWaitStatus, str]] = ..., child_status: _Optional[_Union[_run_pb2.RunStatus, str]] = ..., output: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., failure: _Optional[_Union[_payload_pb2.Failure, _Mapping]] = ..., timeout: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ["consumed", "create_time", "data", "id", "name", "reference_id", "run_id"]
    CONSUMED_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    consumed: bool
    create_time: _timestamp_pb2.Timestamp
    data: _struct_pb2.Value
    id: str
    name: str
    reference_id: str
    run_id: str
    def __init__(self, id: _Optional[str] = ..., run_id: _Optional[str] = ..., name: _Optional[str] = ..., data: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., reference_id: _Optional[str] = ..., consumed: bool = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EventWaitRecord(_message.Message):
    __slots__ = ["end_time", "event", "event_name", "sequence", "start_time", "status", "timeout"]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    end_time: _timestamp_pb2.Timestamp
    event: Event
    event_name: str
    sequence: int
    start_time: _timestamp_pb2.Timestamp
    status: EventWaitStatus
    timeout: _duration_pb2.Duration
    def __init__(self, event_name: _Optional[str] = ..., sequence: _Optional[int] = ..., status: _Optional[_Union[EventWaitStatus, str]] = ..., event: _Optional[_Union[Event, _Mapping]] = ..., timeout: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RunHistory(_message.Message):
    __slots__ = ["child_runs", "child_waits", "event_waits", "sleeps", "tasks"]
    CHILD_RUNS_FIELD_NUMBER: _ClassVar[int]
    CHILD_WAITS_FIELD_NUMBER: _ClassVar[int]
    EVENT_WAITS_FIELD_NUMBER: _ClassVar[int]
    SLEEPS_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    child_runs: _containers.RepeatedCompositeFieldContainer[ChildRunRecord]
    child_waits: _containers.RepeatedCompositeFieldContainer[ChildWaitRecord]
    event_waits: _containers.RepeatedCompositeFieldContainer[EventWaitRecord]
    sleeps: _containers.RepeatedCompositeFieldContainer[SleepRecord]
    tasks: _containers.RepeatedCompositeFieldContainer[Task]
    def __init__(self, tasks: _Optional[_Iterable[_Union[Task, _Mapping]]] = ..., sleeps: _Optional[_Iterable[_Union[SleepRecord, _Mapping]]] = ..., event_waits: _Optional[_Iterable[_Union[EventWaitRecord, _Mapping]]] = ..., child_runs: _Optional[_Iterable[_Union[ChildRunRecord, _Mapping]]] = ..., child_waits: _Optional[_Iterable[_Union[ChildWaitRecord, _Mapping]]] = ...) -> None: ...

class SleepRecord(_message.Message):
    __slots__ = ["duration", "end_time", "name", "sequence", "start_time", "status", "wake_time"]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    WAKE_TIME_FIELD_NUMBER: _ClassVar[int]
    duration: _duration_pb2.Duration
    end_time: _timestamp_pb2.Timestamp
    name: str
    sequence: int
    start_time: _timestamp_pb2.Timestamp
    status: SleepStatus
    wake_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., sequence: _Optional[int] = ..., status: _Optional[_Union[SleepStatus, str]] = ..., duration: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., wake_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ["address", "attempts", "create_time", "failure", "id", "input", "name", "next_attempt_time", "output", "run_id", "sequence", "status", "update_time", "workflow_attempt"]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_TIME_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    address: str
    attempts: int
    create_time: _timestamp_pb2.Timestamp
    failure: _payload_pb2.Failure
    id: str
    input: _struct_pb2.Value
    name: str
    next_attempt_time: _timestamp_pb2.Timestamp
    output: _struct_pb2.Value
    run_id: str
    sequence: int
    status: TaskStatus
    update_time: _timestamp_pb2.Timestamp
    workflow_attempt: int
    def __init__(self, id: _Optional[str] = ..., run_id: _Optional[str] = ..., name: _Optional[str] = ..., address: _Optional[str] = ..., sequence: _Optional[int] = ..., status: _Optional[_Union[TaskStatus, str]] = ..., attempts: _Optional[int] = ..., input: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., output: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., failure: _Optional[_Union[_payload_pb2.Failure, _Mapping]] = ..., next_attempt_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., workflow_attempt: _Optional[int] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TaskStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class SleepStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class EventWaitStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ChildWaitStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
