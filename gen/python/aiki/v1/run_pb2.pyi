from aiki.v1 import payload_pb2 as _payload_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
REFERENCE_CONFLICT_POLICY_ERROR: ReferenceConflictPolicy
REFERENCE_CONFLICT_POLICY_RETURN_EXISTING: ReferenceConflictPolicy
REFERENCE_CONFLICT_POLICY_UNSPECIFIED: ReferenceConflictPolicy
RUN_FAILURE_CAUSE_CHILD_SCHEMA: RunFailureCause
RUN_FAILURE_CAUSE_HANDLER: RunFailureCause
RUN_FAILURE_CAUSE_NON_DETERMINISM: RunFailureCause
RUN_FAILURE_CAUSE_OUTPUT_SCHEMA: RunFailureCause
RUN_FAILURE_CAUSE_TASK: RunFailureCause
RUN_FAILURE_CAUSE_UNSPECIFIED: RunFailureCause
RUN_STATUS_AWAITING_CHILD_WORKFLOW: RunStatus
RUN_STATUS_AWAITING_EVENT: RunStatus
RUN_STATUS_AWAITING_RETRY: RunStatus
RUN_STATUS_CANCELLED: RunStatus
RUN_STATUS_COMPLETED: RunStatus
RUN_STATUS_FAILED: RunStatus
RUN_STATUS_PAUSED: RunStatus
RUN_STATUS_QUEUED: RunStatus
RUN_STATUS_RUNNING: RunStatus
RUN_STATUS_SCHEDULED: RunStatus
RUN_STATUS_SLEEPING: RunStatus
RUN_STATUS_UNSPECIFIED: RunStatus

class RerunStep(_message.Message):
    __slots__ = ["history_end", "last_failure", "start", "task"]
    class HistoryEnd(_message.Message):
        __slots__ = []
        def __init__(self) -> None: ...
    class Start(_message.Message):
        __slots__ = []
        def __init__(self) -> None: ...
    class Task(_message.Message):
        __slots__ = ["address", "sequence"]
        ADDRESS_FIELD_NUMBER: _ClassVar[int]
        SEQUENCE_FIELD_NUMBER: _ClassVar[int]
        address: str
        sequence: int
        def __init__(self, address: _Optional[str] = ..., sequence: _Optional[int] = ...) -> None: ...
    HISTORY_END_FIELD_NUMBER: _ClassVar[int]
    LAST_FAILURE_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    history_end: RerunStep.HistoryEnd
    last_failure: bool
    start: RerunStep.Start
    task: RerunStep.Task
    def __init__(self, start: _Optional[_Union[RerunStep.Start, _Mapping]] = ..., history_end: _Optional[_Union[RerunStep.HistoryEnd, _Mapping]] = ..., task: _Optional[_Union[RerunStep.Task, _Mapping]] = ..., last_failure: bool = ...) -> None: ...

class RetryPolicy(_message.Message):
    __slots__ = ["exponential", "fixed", "jittered", "never"]
    class Exponential(_message.Message):
        __slots__ = ["base_delay", "factor", "max_attempts", "max_delay"]
        BASE_DELAY_FIELD_NUMBER: _ClassVar[int]
        FACTOR_FIELD_NUMBER: _ClassVar[int]
        MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
        MAX_DELAY_FIELD_NUMBER: _ClassVar[int]
        base_delay: _duration_pb2.Duration
        factor: float
        max_attempts: int
        max_delay: _duration_pb2.Duration
        def __init__(self, max_attempts: _Optional[int] = ..., base_delay: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., factor: _Optional[float] = ..., max_delay: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...
    class Fixed(_message.Message):
        __slots__ = ["delay", "max_attempts"]
        DELAY_FIELD_NUMBER: _ClassVar[int]
        MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
        delay: _duration_pb2.Duration
        max_attempts: int
        def __init__(self, max_attempts: _Optional[int] = ..., delay: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...
    class Jittered(_message.Message):
        __slots__ = ["base_delay", "jitter_factor", "max_attempts", "max_delay"]
        BASE_DELAY_FIELD_NUMBER: _ClassVar[int]
        JITTER_FACTOR_FIELD_NUMBER: _ClassVar[int]
        MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
        MAX_DELAY_FIELD_NUMBER: _ClassVar[int]
        base_delay: _duration_pb2.Duration
        jitter_factor: float
        max_attempts: int
        max_delay: _duration_pb2.Duration
        def __init__(self, max_attempts: _Optional[int] = ..., base_delay: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., jitter_factor: _Optional[float] = ..., max_delay: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...
    class Never(_message.Message):
        __slots__ = []
        def __init__(self) -> None: ...
    EXPONENTIAL_FIELD_NUMBER: _ClassVar[int]
    FIXED_FIELD_NUMBER: _ClassVar[int]
    JITTERED_FIELD_NUMBER: _ClassVar[int]
    NEVER_FIELD_NUMBER: _ClassVar[int]
    exponential: RetryPolicy.Exponential
    fixed: RetryPolicy.Fixed
    jittered: RetryPolicy.Jittered
    never: RetryPolicy.Never
    def __init__(self, never: _Optional[_Union[RetryPolicy.Never, _Mapping]] = ..., fixed: _Optional[_Union[RetryPolicy.Fixed, _Mapping]] = ..., exponential: _Optional[_Union[RetryPolicy.Exponential, _Mapping]] = ..., jittered: _Optional[_Union[RetryPolicy.Jittered, _Mapping]] = ...) -> None: ...

class Run(_message.Message):
    __slots__ = ["attempt", "create_time", "end_time", "failure", "failure_cause", "from_step", "id", "input", "lease_expire_time", "lease_worker_id", "namespace", "output", "parent_run_id", "reference_id", "rerun_of", "retain_forever", "retain_until", "retry", "revision", "shard", "start_time", "status", "status_reason", "tags", "trace_context", "update_time", "wake_time", "workflow_name", "workflow_version_id"]
    class TagsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    FAILURE_CAUSE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    FROM_STEP_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    LEASE_WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    PARENT_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    RERUN_OF_FIELD_NUMBER: _ClassVar[int]
    RETAIN_FOREVER_FIELD_NUMBER: _ClassVar[int]
    RETAIN_UNTIL_FIELD_NUMBER: _ClassVar[int]
    RETRY_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    TRACE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    WAKE_TIME_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_NAME_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    create_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    failure: _payload_pb2.Failure
    failure_cause: RunFailureCause
    from_step: RerunStep
    id: str
    input: _struct_pb2.Value
    lease_expire_time: _timestamp_pb2.Timestamp
    lease_worker_id: str
    namespace: str
    output: _struct_pb2.Value
    parent_run_id: str
    reference_id: str
    rerun_of: str
    retain_forever: bool
    retain_until: _timestamp_pb2.Timestamp
    retry: RetryPolicy
    revision: int
    shard: str
    start_time: _timestamp_pb2.Timestamp
    status: RunStatus
    status_reason: str
    tags: _containers.ScalarMap[str, str]
    trace_context: TraceContext
    update_time: _timestamp_pb2.Timestamp
    wake_time: _timestamp_pb2.Timestamp
    workflow_name: str
    workflow_version_id: str
    def __init__(self, id: _Optional[str] = ..., namespace: _Optional[str] = ..., workflow_name: _Optional[str] = ..., workflow_version_id: _Optional[str] = ..., status: _Optional[_Union[RunStatus, str]] = ..., revision: _Optional[int] = ..., input: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., output: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., failure: _Optional[_Union[_payload_pb2.Failure, _Mapping]] = ..., failure_cause: _Optional[_Union[RunFailureCause, str]] = ..., status_reason: _Optional[str] = ..., reference_id: _Optional[str] = ..., shard: _Optional[str] = ..., parent_run_id: _Optional[str] = ..., retry: _Optional[_Union[RetryPolicy, _Mapping]] = ..., attempt: _Optional[int] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., wake_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., lease_worker_id: _Optional[str] = ..., lease_expire_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., retain_until: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., retain_forever: bool = ..., rerun_of: _Optional[str] = ..., from_step: _Optional[_Union[RerunStep, _Mapping]] = ..., tags: _Optional[_Mapping[str, str]] = ..., trace_context: _Optional[_Union[TraceContext, _Mapping]] = ...) -> None: ...

class RunReference(_message.Message):
    __slots__ = ["reference_id", "workflow_name", "workflow_version_id"]
    REFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_NAME_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    reference_id: str
    workflow_name: str
    workflow_version_id: str
    def __init__(self, workflow_name: _Optional[str] = ..., workflow_version_id: _Optional[str] = ..., reference_id: _Optional[str] = ...) -> None: ...

class RunTransition(_message.Message):
    __slots__ = ["actor", "from_status", "reason", "revision", "time", "to_status"]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    FROM_STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TO_STATUS_FIELD_NUMBER: _ClassVar[int]
    actor: str
    from_status: RunStatus
    reason: str
    revision: int
    time: _timestamp_pb2.Timestamp
    to_status: RunStatus
    def __init__(self, revision: _Optional[int] = ..., from_status: _Optional[_Union[RunStatus, str]] = ..., to_status: _Optional[_Union[RunStatus, str]] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ..., time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TraceContext(_message.Message):
    __slots__ = ["traceparent", "tracestate"]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    TRACESTATE_FIELD_NUMBER: _ClassVar[int]
    traceparent: str
    tracestate: str
    def __init__(self, traceparent: _Optional[str] = ..., tracestate: _Optional[str] = ...) -> None: ...

class Trigger(_message.Message):
    __slots__ = ["delay", "start_time"]
    DELAY_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    delay: _duration_pb2.Duration
    start_time: _timestamp_pb2.Timestamp
    def __init__(self, delay: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RunStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class RunFailureCause(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ReferenceConflictPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
