from aiki.v1 import history_pb2 as _history_pb2
from aiki.v1 import payload_pb2 as _payload_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CompleteTaskRequest(_message.Message):
    __slots__ = ["attempt", "lease_token", "output", "run_id", "task_id"]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    lease_token: str
    output: _struct_pb2.Value
    run_id: str
    task_id: str
    def __init__(self, run_id: _Optional[str] = ..., lease_token: _Optional[str] = ..., task_id: _Optional[str] = ..., attempt: _Optional[int] = ..., output: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class CompleteTaskResponse(_message.Message):
    __slots__ = ["task"]
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _history_pb2.Task
    def __init__(self, task: _Optional[_Union[_history_pb2.Task, _Mapping]] = ...) -> None: ...

class FailTaskRequest(_message.Message):
    __slots__ = ["attempt", "failure", "lease_token", "retry_delay", "run_id", "task_id"]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RETRY_DELAY_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    failure: _payload_pb2.Failure
    lease_token: str
    retry_delay: _duration_pb2.Duration
    run_id: str
    task_id: str
    def __init__(self, run_id: _Optional[str] = ..., lease_token: _Optional[str] = ..., task_id: _Optional[str] = ..., attempt: _Optional[int] = ..., failure: _Optional[_Union[_payload_pb2.Failure, _Mapping]] = ..., retry_delay: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class FailTaskResponse(_message.Message):
    __slots__ = ["task"]
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _history_pb2.Task
    def __init__(self, task: _Optional[_Union[_history_pb2.Task, _Mapping]] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ["run_id"]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class ListTasksResponse(_message.Message):
    __slots__ = ["tasks"]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[_history_pb2.Task]
    def __init__(self, tasks: _Optional[_Iterable[_Union[_history_pb2.Task, _Mapping]]] = ...) -> None: ...

class StartTaskRequest(_message.Message):
    __slots__ = ["address", "attempt_id", "completed_tasks", "input", "lease_token", "max_attempts", "name", "run_id", "sequence"]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_TASKS_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    address: str
    attempt_id: str
    completed_tasks: _containers.RepeatedCompositeFieldContainer[TaskCompletion]
    input: _struct_pb2.Value
    lease_token: str
    max_attempts: int
    name: str
    run_id: str
    sequence: int
    def __init__(self, run_id: _Optional[str] = ..., lease_token: _Optional[str] = ..., name: _Optional[str] = ..., address: _Optional[str] = ..., sequence: _Optional[int] = ..., input: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., max_attempts: _Optional[int] = ..., attempt_id: _Optional[str] = ..., completed_tasks: _Optional[_Iterable[_Union[TaskCompletion, _Mapping]]] = ...) -> None: ...

class StartTaskResponse(_message.Message):
    __slots__ = ["task"]
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _history_pb2.Task
    def __init__(self, task: _Optional[_Union[_history_pb2.Task, _Mapping]] = ...) -> None: ...

class TaskCompletion(_message.Message):
    __slots__ = ["attempt", "attempt_id", "output", "task_id"]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    attempt_id: str
    output: _struct_pb2.Value
    task_id: str
    def __init__(self, task_id: _Optional[str] = ..., attempt: _Optional[int] = ..., output: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., attempt_id: _Optional[str] = ...) -> None: ...
