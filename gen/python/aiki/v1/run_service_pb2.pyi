from aiki.v1 import run_pb2 as _run_pb2
from aiki.v1 import event_service_pb2 as _event_service_pb2
from aiki.v1 import history_pb2 as _history_pb2
from google.protobuf import any_pb2 as _any_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AwakeRunRequest(_message.Message):
    __slots__ = ["run_id"]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class AwakeRunResponse(_message.Message):
    __slots__ = ["run"]
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _run_pb2.Run
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ...) -> None: ...

class CancelRunRequest(_message.Message):
    __slots__ = ["reason", "run_id"]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    reason: str
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelRunResponse(_message.Message):
    __slots__ = ["run"]
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _run_pb2.Run
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ...) -> None: ...

class ClientSessionRequest(_message.Message):
    __slots__ = ["call", "cancel"]
    class Call(_message.Message):
        __slots__ = ["call_id", "send_event", "start_run", "trace_context", "wait_for_run_status"]
        CALL_ID_FIELD_NUMBER: _ClassVar[int]
        SEND_EVENT_FIELD_NUMBER: _ClassVar[int]
        START_RUN_FIELD_NUMBER: _ClassVar[int]
        TRACE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
        WAIT_FOR_RUN_STATUS_FIELD_NUMBER: _ClassVar[int]
        call_id: int
        send_event: _event_service_pb2.SendEventRequest
        start_run: StartRunRequest
        trace_context: _run_pb2.TraceContext
        wait_for_run_status: WaitForRunStatusRequest
        def __init__(self, call_id: _Optional[int] = ..., start_run: _Optional[_Union[StartRunRequest, _Mapping]] = ..., wait_for_run_status: _Optional[_Union[WaitForRunStatusRequest, _Mapping]] = ..., send_event: _Optional[_Union[_event_service_pb2.SendEventRequest, _Mapping]] = ..., trace_context: _Optional[_Union[_run_pb2.TraceContext, _Mapping]] = ...) -> None: ...
    class Cancel(_message.Message):
        __slots__ = ["call_id"]
        CALL_ID_FIELD_NUMBER: _ClassVar[int]
        call_id: int
        def __init__(self, call_id: _Optional[int] = ...) -> None: ...
    CALL_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    call: ClientSessionRequest.Call
    cancel: ClientSessionRequest.Cancel
    def __init__(self, call: _Optional[_Union[ClientSessionRequest.Call, _Mapping]] = ..., cancel: _Optional[_Union[ClientSessionRequest.Cancel, _Mapping]] = ...) -> None: ...

class ClientSessionResponse(_message.Message):
    __slots__ = ["call_id", "error", "send_event", "start_run", "wait_for_run_status"]
    class CallError(_message.Message):
        __slots__ = ["code", "details", "message"]
        CODE_FIELD_NUMBER: _ClassVar[int]
        DETAILS_FIELD_NUMBER: _ClassVar[int]
        MESSAGE_FIELD_NUMBER: _ClassVar[int]
        code: int
        details: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
        message: str
        def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., details: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SEND_EVENT_FIELD_NUMBER: _ClassVar[int]
    START_RUN_FIELD_NUMBER: _ClassVar[int]
    WAIT_FOR_RUN_STATUS_FIELD_NUMBER: _ClassVar[int]
    call_id: int
    error: ClientSessionResponse.CallError
    send_event: _event_service_pb2.SendEventResponse
    start_run: StartRunResponse
    wait_for_run_status: WaitForRunStatusResponse
    def __init__(self, call_id: _Optional[int] = ..., start_run: _Optional[_Union[StartRunResponse, _Mapping]] = ..., wait_for_run_status: _Optional[_Union[WaitForRunStatusResponse, _Mapping]] = ..., send_event: _Optional[_Union[_event_service_pb2.SendEventResponse, _Mapping]] = ..., error: _Optional[_Union[ClientSessionResponse.CallError, _Mapping]] = ...) -> None: ...

class CountRunsRequest(_message.Message):
    __slots__ = ["filter"]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    filter: RunFilter
    def __init__(self, filter: _Optional[_Union[RunFilter, _Mapping]] = ...) -> None: ...

class CountRunsResponse(_message.Message):
    __slots__ = ["counts", "total"]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    counts: _containers.RepeatedCompositeFieldContainer[RunStatusCount]
    total: int
    def __init__(self, counts: _Optional[_Iterable[_Union[RunStatusCount, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...

class GetRunByReferenceIdRequest(_message.Message):
    __slots__ = ["reference"]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    reference: _run_pb2.RunReference
    def __init__(self, reference: _Optional[_Union[_run_pb2.RunReference, _Mapping]] = ...) -> None: ...

class GetRunByReferenceIdResponse(_message.Message):
    __slots__ = ["run"]
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _run_pb2.Run
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ...) -> None: ...

class GetRunHistoryRequest(_message.Message):
    __slots__ = ["run_id"]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class GetRunHistoryResponse(_message.Message):
    __slots__ = ["events", "history"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_history_pb2.Event]
    history: _history_pb2.RunHistory
    def __init__(self, history: _Optional[_Union[_history_pb2.RunHistory, _Mapping]] = ..., events: _Optional[_Iterable[_Union[_history_pb2.Event, _Mapping]]] = ...) -> None: ...

class GetRunRequest(_message.Message):
    __slots__ = ["run_id"]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class GetRunResponse(_message.Message):
    __slots__ = ["run"]
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _run_pb2.Run
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ...) -> None: ...

class ListChildRunsRequest(_message.Message):
    __slots__ = ["page_size", "page_token", "parent_run_id"]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PARENT_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    parent_run_id: str
    def __init__(self, parent_run_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListChildRunsResponse(_message.Message):
    __slots__ = ["next_page_token", "runs"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    runs: _containers.RepeatedCompositeFieldContainer[_run_pb2.Run]
    def __init__(self, runs: _Optional[_Iterable[_Union[_run_pb2.Run, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListRunTransitionsRequest(_message.Message):
    __slots__ = ["page_size", "page_token", "run_id"]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRunTransitionsResponse(_message.Message):
    __slots__ = ["next_page_token", "transitions"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TRANSITIONS_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    transitions: _containers.RepeatedCompositeFieldContainer[_run_pb2.RunTransition]
    def __init__(self, transitions: _Optional[_Iterable[_Union[_run_pb2.RunTransition, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ["create_time_from", "create_time_to", "page_size", "page_token", "parent_run_id", "reference_id", "rerun_of", "run_ids", "schedule_id", "shard", "statuses", "tags", "workflow_name", "workflow_version_id"]
    class TagsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CREATE_TIME_FROM_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_TO_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PARENT_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    RERUN_OF_FIELD_NUMBER: _ClassVar[int]
    RUN_IDS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_NAME_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    create_time_from: _timestamp_pb2.Timestamp
    create_time_to: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    parent_run_id: str
    reference_id: str
    rerun_of: str
    run_ids: _containers.RepeatedScalarFieldContainer[str]
    schedule_id: str
    shard: str
    statuses: _containers.RepeatedScalarFieldContainer[_run_pb2.RunStatus]
    tags: _containers.ScalarMap[str, str]
    workflow_name: str
    workflow_version_id: str
    def __init__(self, workflow_name: _Optional[str] = ..., workflow_version_id: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[_run_pb2.RunStatus, str]]] = ..., shard: _Optional[str] = ..., parent_run_id: _Optional[str] = ..., reference_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., run_ids: _Optional[_Iterable[str]] = ..., schedule_id: _Optional[str] = ..., create_time_from: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., create_time_to: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., rerun_of: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListRunsResponse(_message.Message):
    __slots__ = ["next_page_token", "runs"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    runs: _containers.RepeatedCompositeFieldContainer[_run_pb2.Run]
    def __init__(self, runs: _Optional[_Iterable[_Union[_run_pb2.Run, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListWorkflowsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListWorkflowsResponse(_message.Message):
    __slots__ = ["workflows"]
    WORKFLOWS_FIELD_NUMBER: _ClassVar[int]
    workflows: _containers.RepeatedCompositeFieldContainer[WorkflowVersionSummary]
    def __init__(self, workflows: _Optional[_Iterable[_Union[WorkflowVersionSummary, _Mapping]]] = ...) -> None: ...

class PauseRunRequest(_message.Message):
    __slots__ = ["reason", "run_id"]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    reason: str
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PauseRunResponse(_message.Message):
    __slots__ = ["run"]
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _run_pb2.Run
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ...) -> None: ...

class RerunRunRequest(_message.Message):
    __slots__ = ["input", "last_failure", "reference_id", "request_id", "run_id", "start", "step", "workflow_version_id"]
    class LastFailure(_message.Message):
        __slots__ = []
        def __init__(self) -> None: ...
    class Start(_message.Message):
        __slots__ = []
        def __init__(self) -> None: ...
    class TaskStep(_message.Message):
        __slots__ = ["address", "sequence"]
        ADDRESS_FIELD_NUMBER: _ClassVar[int]
        SEQUENCE_FIELD_NUMBER: _ClassVar[int]
        address: str
        sequence: int
        def __init__(self, address: _Optional[str] = ..., sequence: _Optional[int] = ...) -> None: ...
    INPUT_FIELD_NUMBER: _ClassVar[int]
    LAST_FAILURE_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    input: _struct_pb2.Value
    last_failure: RerunRunRequest.LastFailure
    reference_id: str
    request_id: str
    run_id: str
    start: RerunRunRequest.Start
    step: RerunRunRequest.TaskStep
    workflow_version_id: str
    def __init__(self, run_id: _Optional[str] = ..., start: _Optional[_Union[RerunRunRequest.Start, _Mapping]] = ..., last_failure: _Optional[_Union[RerunRunRequest.LastFailure, _Mapping]] = ..., step: _Optional[_Union[RerunRunRequest.TaskStep, _Mapping]] = ..., input: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., workflow_version_id: _Optional[str] = ..., request_id: _Optional[str] = ..., reference_id: _Optional[str] = ...) -> None: ...

class RerunRunResponse(_message.Message):
    __slots__ = ["copied_records", "existing", "run"]
    COPIED_RECORDS_FIELD_NUMBER: _ClassVar[int]
    EXISTING_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    copied_records: int
    existing: bool
    run: _run_pb2.Run
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ..., existing: bool = ..., copied_records: _Optional[int] = ...) -> None: ...

class ResumeRunRequest(_message.Message):
    __slots__ = ["reason", "run_id"]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    reason: str
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ResumeRunResponse(_message.Message):
    __slots__ = ["run"]
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _run_pb2.Run
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ...) -> None: ...

class RunFilter(_message.Message):
    __slots__ = ["create_time_from", "create_time_to", "parent_run_id", "reference_id", "rerun_of", "run_ids", "schedule_id", "shard", "statuses", "tags", "workflow_name", "workflow_version_id"]
    class TagsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CREATE_TIME_FROM_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_TO_FIELD_NUMBER: _ClassVar[int]
    PARENT_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    RERUN_OF_FIELD_NUMBER: _ClassVar[int]
    RUN_IDS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_NAME_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    create_time_from: _timestamp_pb2.Timestamp
    create_time_to: _timestamp_pb2.Timestamp
    parent_run_id: str
    reference_id: str
    rerun_of: str
    run_ids: _containers.RepeatedScalarFieldContainer[str]
    schedule_id: str
    shard: str
    statuses: _containers.RepeatedScalarFieldContainer[_run_pb2.RunStatus]
    tags: _containers.ScalarMap[str, str]
    workflow_name: str
    workflow_version_id: str
    def __init__(self, workflow_name: _Optional[str] = ..., workflow_version_id: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[_run_pb2.RunStatus, str]]] = ..., shard: _Optional[str] = ..., parent_run_id: _Optional[str] = ..., reference_id: _Optional[str] = ..., run_ids: _Optional[_Iterable[str]] = ..., schedule_id: _Optional[str] = ..., create_time_from: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., create_time_to: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., rerun_of: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RunStatusCount(_message.Message):
    __slots__ = ["count", "status"]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    count: int
    status: _run_pb2.RunStatus
    def __init__(self, status: _Optional[_Union[_run_pb2.RunStatus, str]] = ..., count: _Optional[int] = ...) -> None: ...

class SetRunRetentionRequest(_message.Message):
    __slots__ = ["forever", "run_id", "until"]
    FOREVER_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    forever: bool
    run_id: str
    until: _timestamp_pb2.Timestamp
    def __init__(self, run_id: _Optional[str] = ..., until: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., forever: bool = ...) -> None: ...

class SetRunRetentionResponse(_message.Message):
    __slots__ = ["run"]
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _run_pb2.Run
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ...) -> None: ...

class StartRunRequest(_message.Message):
    __slots__ = ["conflict_policy", "input", "reference_id", "request_id", "retry", "shard", "tags", "trace_context", "trigger", "workflow_name", "workflow_version_id"]
    class TagsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CONFLICT_POLICY_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RETRY_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    TRACE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_NAME_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    conflict_policy: _run_pb2.ReferenceConflictPolicy
    input: _struct_pb2.Value
    reference_id: str
    request_id: str
    retry: _run_pb2.RetryPolicy
    shard: str
    tags: _containers.ScalarMap[str, str]
    trace_context: _run_pb2.TraceContext
    trigger: _run_pb2.Trigger
    workflow_name: str
    workflow_version_id: str
    def __init__(self, request_id: _Optional[str] = ..., workflow_name: _Optional[str] = ..., workflow_version_id: _Optional[str] = ..., input: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., reference_id: _Optional[str] = ..., conflict_policy: _Optional[_Union[_run_pb2.ReferenceConflictPolicy, str]] = ..., shard: _Optional[str] = ..., trigger: _Optional[_Union[_run_pb2.Trigger, _Mapping]] = ..., retry: _Optional[_Union[_run_pb2.RetryPolicy, _Mapping]] = ..., tags: _Optional[_Mapping[str, str]] = ..., trace_context: _Optional[_Union[_run_pb2.TraceContext, _Mapping]] = ...) -> None: ...

class StartRunResponse(_message.Message):
    __slots__ = ["existing", "run"]
    EXISTING_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    existing: bool
    run: _run_pb2.Run
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ..., existing: bool = ...) -> None: ...

class WaitForRunStatusRequest(_message.Message):
    __slots__ = ["run_id", "status", "timeout"]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    status: _run_pb2.RunStatus
    timeout: _duration_pb2.Duration
    def __init__(self, run_id: _Optional[str] = ..., status: _Optional[_Union[_run_pb2.RunStatus, str]] = ..., timeout: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class WaitForRunStatusResponse(_message.Message):
    __slots__ = ["outcome", "run"]
    class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_REACHED: WaitForRunStatusResponse.Outcome
    OUTCOME_TERMINATED: WaitForRunStatusResponse.Outcome
    OUTCOME_TIMEOUT: WaitForRunStatusResponse.Outcome
    OUTCOME_UNSPECIFIED: WaitForRunStatusResponse.Outcome
    RUN_FIELD_NUMBER: _ClassVar[int]
    outcome: WaitForRunStatusResponse.Outcome
    run: _run_pb2.Run
    def __init__(self, outcome: _Optional[_Union[WaitForRunStatusResponse.Outcome, str]] = ..., run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ...) -> None: ...

class WatchRunRequest(_message.Message):
    __slots__ = ["run_id"]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class WatchRunResponse(_message.Message):
    __slots__ = ["history_changed", "run"]
    HISTORY_CHANGED_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    history_changed: bool
    run: _run_pb2.Run
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ..., history_changed: bool = ...) -> None: ...

class WatchRunsRequest(_message.Message):
    __slots__ = ["filter"]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    filter: RunFilter
    def __init__(self, filter: _Optional[_Union[RunFilter, _Mapping]] = ...) -> None: ...

class WatchRunsResponse(_message.Message):
    __slots__ = ["runs"]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[_run_pb2.Run]
    def __init__(self, runs: _Optional[_Iterable[_Union[_run_pb2.Run, _Mapping]]] = ...) -> None: ...

class WorkflowVersionSummary(_message.Message):
    __slots__ = ["last_create_time", "run_count", "schedule_count", "worker_count", "workflow_name", "workflow_version_id"]
    LAST_CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RUN_COUNT_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_COUNT_FIELD_NUMBER: _ClassVar[int]
    WORKER_COUNT_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_NAME_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    last_create_time: _timestamp_pb2.Timestamp
    run_count: int
    schedule_count: int
    worker_count: int
    workflow_name: str
    workflow_version_id: str
    def __init__(self, workflow_name: _Optional[str] = ..., workflow_version_id: _Optional[str] = ..., run_count: _Optional[int] = ..., last_create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., worker_count: _Optional[int] = ..., schedule_count: _Optional[int] = ...) -> None: ...
