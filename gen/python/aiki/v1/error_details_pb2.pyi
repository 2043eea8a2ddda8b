from aiki.v1 import history_pb2 as _history_pb2
from aiki.v1 import run_pb2 as _run_pb2
from aiki.v1 import schedule_service_pb2 as _schedule_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AddressMismatchDetail(_message.Message):
    __slots__ = ["expected", "field", "got"]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    GOT_FIELD_NUMBER: _ClassVar[int]
    expected: str
    field: str
    got: str
    def __init__(self, field: _Optional[str] = ..., expected: _Optional[str] = ..., got: _Optional[str] = ...) -> None: ...

class BadRequestDetail(_message.Message):
    __slots__ = ["field_violations"]
    class FieldViolation(_message.Message):
        __slots__ = ["description", "field"]
        DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
        FIELD_FIELD_NUMBER: _ClassVar[int]
        description: str
        field: str
        def __init__(self, field: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...
    FIELD_VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    field_violations: _containers.RepeatedCompositeFieldContainer[BadRequestDetail.FieldViolation]
    def __init__(self, field_violations: _Optional[_Iterable[_Union[BadRequestDetail.FieldViolation, _Mapping]]] = ...) -> None: ...

class InvalidTransitionDetail(_message.Message):
    __slots__ = ["action", "current_status", "revision", "run_id"]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    CURRENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    action: str
    current_status: _run_pb2.RunStatus
    revision: int
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., current_status: _Optional[_Union[_run_pb2.RunStatus, str]] = ..., action: _Optional[str] = ..., revision: _Optional[int] = ...) -> None: ...

class LeaseLostDetail(_message.Message):
    __slots__ = ["current_status", "run_id"]
    CURRENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    current_status: _run_pb2.RunStatus
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., current_status: _Optional[_Union[_run_pb2.RunStatus, str]] = ...) -> None: ...

class LimitExceededDetail(_message.Message):
    __slots__ = ["actual", "limit", "max", "subject"]
    ACTUAL_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    actual: int
    limit: str
    max: int
    subject: str
    def __init__(self, limit: _Optional[str] = ..., max: _Optional[int] = ..., actual: _Optional[int] = ..., subject: _Optional[str] = ...) -> None: ...

class PermissionDeniedDetail(_message.Message):
    __slots__ = ["method", "required_scope"]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_SCOPE_FIELD_NUMBER: _ClassVar[int]
    method: str
    required_scope: str
    def __init__(self, required_scope: _Optional[str] = ..., method: _Optional[str] = ...) -> None: ...

class RunConflictDetail(_message.Message):
    __slots__ = ["existing_run_id", "kind", "reference_id", "request_id"]
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    EXISTING_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    KIND_REFERENCE_ID: RunConflictDetail.Kind
    KIND_REQUEST_ID: RunConflictDetail.Kind
    KIND_UNSPECIFIED: RunConflictDetail.Kind
    REFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    existing_run_id: str
    kind: RunConflictDetail.Kind
    reference_id: str
    request_id: str
    def __init__(self, kind: _Optional[_Union[RunConflictDetail.Kind, str]] = ..., existing_run_id: _Optional[str] = ..., reference_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class RunNotFoundDetail(_message.Message):
    __slots__ = ["reference", "run_id"]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    reference: _run_pb2.RunReference
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., reference: _Optional[_Union[_run_pb2.RunReference, _Mapping]] = ...) -> None: ...

class ScheduleConflictDetail(_message.Message):
    __slots__ = ["existing_schedule_id", "schedule_name"]
    EXISTING_SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_NAME_FIELD_NUMBER: _ClassVar[int]
    existing_schedule_id: str
    schedule_name: str
    def __init__(self, schedule_name: _Optional[str] = ..., existing_schedule_id: _Optional[str] = ...) -> None: ...

class ScheduleNotFoundDetail(_message.Message):
    __slots__ = ["schedule_id"]
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    schedule_id: str
    def __init__(self, schedule_id: _Optional[str] = ...) -> None: ...

class ScheduleStateDetail(_message.Message):
    __slots__ = ["action", "current_status", "schedule_id"]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    CURRENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    action: str
    current_status: _schedule_service_pb2.ScheduleStatus
    schedule_id: str
    def __init__(self, schedule_id: _Optional[str] = ..., current_status: _Optional[_Union[_schedule_service_pb2.ScheduleStatus, str]] = ..., action: _Optional[str] = ...) -> None: ...

class StaleTaskAttemptDetail(_message.Message):
    __slots__ = ["attempt", "current_attempts", "current_status", "found", "task_id"]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    CURRENT_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    current_attempts: int
    current_status: _history_pb2.TaskStatus
    found: bool
    task_id: str
    def __init__(self, task_id: _Optional[str] = ..., attempt: _Optional[int] = ..., found: bool = ..., current_status: _Optional[_Union[_history_pb2.TaskStatus, str]] = ..., current_attempts: _Optional[int] = ...) -> None: ...
