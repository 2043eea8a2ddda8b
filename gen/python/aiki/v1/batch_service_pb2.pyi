from aiki.v1 import run_service_pb2 as _run_service_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

BATCH_OPERATION_STATUS_CANCELLED: BatchOperationStatus
BATCH_OPERATION_STATUS_COMPLETED: BatchOperationStatus
BATCH_OPERATION_STATUS_FAILED: BatchOperationStatus
BATCH_OPERATION_STATUS_RUNNING: BatchOperationStatus
BATCH_OPERATION_STATUS_UNSPECIFIED: BatchOperationStatus
DESCRIPTOR: _descriptor.FileDescriptor

class BatchAction(_message.Message):
    __slots__ = ["awake", "cancel", "pause", "rerun", "resume", "send_event"]
    class Awake(_message.Message):
        __slots__ = []
        def __init__(self) -> None: ...
    class Cancel(_message.Message):
        __slots__ = ["reason"]
        REASON_FIELD_NUMBER: _ClassVar[int]
        reason: str
        def __init__(self, reason: _Optional[str] = ...) -> None: ...
    class Pause(_message.Message):
        __slots__ = ["reason"]
        REASON_FIELD_NUMBER: _ClassVar[int]
        reason: str
        def __init__(self, reason: _Optional[str] = ...) -> None: ...
    class Rerun(_message.Message):
        __slots__ = ["last_failure", "start", "workflow_version_id"]
        LAST_FAILURE_FIELD_NUMBER: _ClassVar[int]
        START_FIELD_NUMBER: _ClassVar[int]
        WORKFLOW_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
        last_failure: _run_service_pb2.RerunRunRequest.LastFailure
        start: _run_service_pb2.RerunRunRequest.Start
        workflow_version_id: str
        def __init__(self, start: _Optional[_Union[_run_service_pb2.RerunRunRequest.Start, _Mapping]] = ..., last_failure: _Optional[_Union[_run_service_pb2.RerunRunRequest.LastFailure, _Mapping]] = ..., workflow_version_id: _Optional[str] = ...) -> None: ...
    class Resume(_message.Message):
        __slots__ = ["reason"]
        REASON_FIELD_NUMBER: _ClassVar[int]
        reason: str
        def __init__(self, reason: _Optional[str] = ...) -> None: ...
    class SendEvent(_message.Message):
        __slots__ = ["data", "event_name", "reference_id"]
        DATA_FIELD_NUMBER: _ClassVar[int]
        EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
        REFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
        data: _struct_pb2.Value
        event_name: str
        reference_id: str
        def __init__(self, event_name: _Optional[str] = ..., data: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., reference_id: _Optional[str] = ...) -> None: ...
    AWAKE_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    PAUSE_FIELD_NUMBER: _ClassVar[int]
    RERUN_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    SEND_EVENT_FIELD_NUMBER: _ClassVar[int]
    awake: BatchAction.Awake
    cancel: BatchAction.Cancel
    pause: BatchAction.Pause
    rerun: BatchAction.Rerun
    resume: BatchAction.Resume
    send_event: BatchAction.SendEvent
    def __init__(self, cancel: _Optional[_Union[BatchAction.Cancel, _Mapping]] = ..., pause: _Optional[_Union[BatchAction.Pause, _Mapping]] = ..., resume: _Optional[_Union[BatchAction.Resume, _Mapping]] = ..., awake: _Optional[_Union[BatchAction.Awake, _Mapping]] = ..., send_event: _Optional[_Union[BatchAction.SendEvent, _Mapping]] = ..., rerun: _Optional[_Union[BatchAction.Rerun, _Mapping]] = ...) -> None: ...

class BatchFailure(_message.Message):
    __slots__ = ["reason", "run_id"]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    reason: str
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class BatchOperation(_message.Message):
    __slots__ = ["action", "create_time", "description", "done", "end_time", "failed", "failures", "filter", "id", "matching", "namespace", "rate", "request_id", "requested_by", "run_ids", "skipped", "status", "status_reason", "update_time"]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MATCHING_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_IDS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    action: BatchAction
    create_time: _timestamp_pb2.Timestamp
    description: str
    done: int
    end_time: _timestamp_pb2.Timestamp
    failed: int
    failures: _containers.RepeatedCompositeFieldContainer[BatchFailure]
    filter: _run_service_pb2.RunFilter
    id: str
    matching: int
    namespace: str
    rate: int
    request_id: str
    requested_by: str
    run_ids: RunIds
    skipped: int
    status: BatchOperationStatus
    status_reason: str
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., namespace: _Optional[str] = ..., status: _Optional[_Union[BatchOperationStatus, str]] = ..., status_reason: _Optional[str] = ..., filter: _Optional[_Union[_run_service_pb2.RunFilter, _Mapping]] = ..., run_ids: _Optional[_Union[RunIds, _Mapping]] = ..., action: _Optional[_Union[BatchAction, _Mapping]] = ..., rate: _Optional[int] = ..., requested_by: _Optional[str] = ..., description: _Optional[str] = ..., matching: _Optional[int] = ..., done: _Optional[int] = ..., skipped: _Optional[int] = ..., failed: _Optional[int] = ..., failures: _Optional[_Iterable[_Union[BatchFailure, _Mapping]]] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CancelBatchOperationRequest(_message.Message):
    __slots__ = ["operation_id", "reason"]
    OPERATION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    operation_id: str
    reason: str
    def __init__(self, operation_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelBatchOperationResponse(_message.Message):
    __slots__ = ["operation"]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    operation: BatchOperation
    def __init__(self, operation: _Optional[_Union[BatchOperation, _Mapping]] = ...) -> None: ...

class GetBatchOperationRequest(_message.Message):
    __slots__ = ["operation_id"]
    OPERATION_ID_FIELD_NUMBER: _ClassVar[int]
    operation_id: str
    def __init__(self, operation_id: _Optional[str] = ...) -> None: ...

class GetBatchOperationResponse(_message.Message):
    __slots__ = ["operation"]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    operation: BatchOperation
    def __init__(self, operation: _Optional[_Union[BatchOperation, _Mapping]] = ...) -> None: ...

class ListBatchOperationsRequest(_message.Message):
    __slots__ = ["page_size", "page_token", "status"]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    status: BatchOperationStatus
    def __init__(self, status: _Optional[_Union[BatchOperationStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListBatchOperationsResponse(_message.Message):
    __slots__ = ["next_page_token", "operations"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    operations: _containers.RepeatedCompositeFieldContainer[BatchOperation]
    def __init__(self, operations: _Optional[_Iterable[_Union[BatchOperation, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RunIds(_message.Message):
    __slots__ = ["ids"]
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ...) -> None: ...

class StartBatchOperationRequest(_message.Message):
    __slots__ = ["action", "description", "dry_run", "filter", "rate", "request_id", "run_ids"]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_IDS_FIELD_NUMBER: _ClassVar[int]
    action: BatchAction
    description: str
    dry_run: bool
    filter: _run_service_pb2.RunFilter
    rate: int
    request_id: str
    run_ids: RunIds
    def __init__(self, request_id: _Optional[str] = ..., filter: _Optional[_Union[_run_service_pb2.RunFilter, _Mapping]] = ..., run_ids: _Optional[_Union[RunIds, _Mapping]] = ..., action: _Optional[_Union[BatchAction, _Mapping]] = ..., dry_run: bool = ..., rate: _Optional[int] = ..., description: _Optional[str] = ...) -> None: ...

class StartBatchOperationResponse(_message.Message):
    __slots__ = ["existing", "matching", "operation"]
    EXISTING_FIELD_NUMBER: _ClassVar[int]
    MATCHING_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    existing: bool
    matching: int
    operation: BatchOperation
    def __init__(self, operation: _Optional[_Union[BatchOperation, _Mapping]] = ..., matching: _Optional[int] = ..., existing: bool = ...) -> None: ...

class BatchOperationStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
