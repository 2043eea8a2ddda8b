from aiki.v1 import history_pb2 as _history_pb2
from aiki.v1 import payload_pb2 as _payload_pb2
from aiki.v1 import run_pb2 as _run_pb2
from aiki.v1 import task_service_pb2 as _task_service_pb2
from google.protobuf import any_pb2 as _any_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CompleteRunRequest(_message.Message):
    __slots__ = ["completed_tasks", "lease_token", "output", "run_id"]
    COMPLETED_TASKS_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    completed_tasks: _containers.RepeatedCompositeFieldContainer[_task_service_pb2.TaskCompletion]
    lease_token: str
    output: _struct_pb2.Value
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., lease_token: _Optional[str] = ..., output: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., completed_tasks: _Optional[_Iterable[_Union[_task_service_pb2.TaskCompletion, _Mapping]]] = ...) -> None: ...

class CompleteRunResponse(_message.Message):
    __slots__ = ["run"]
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _run_pb2.Run
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ...) -> None: ...

class FailRunRequest(_message.Message):
    __slots__ = ["cause", "failure", "lease_token", "run_id"]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    cause: _run_pb2.RunFailureCause
    failure: _payload_pb2.Failure
    lease_token: str
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., lease_token: _Optional[str] = ..., failure: _Optional[_Union[_payload_pb2.Failure, _Mapping]] = ..., cause: _Optional[_Union[_run_pb2.RunFailureCause, str]] = ...) -> None: ...

class FailRunResponse(_message.Message):
    __slots__ = ["run"]
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _run_pb2.Run
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ["lease_ttl", "leases", "worker_id"]
    LEASES_FIELD_NUMBER: _ClassVar[int]
    LEASE_TTL_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    lease_ttl: _duration_pb2.Duration
    leases: _containers.RepeatedCompositeFieldContainer[HeldLease]
    worker_id: str
    def __init__(self, worker_id: _Optional[str] = ..., leases: _Optional[_Iterable[_Union[HeldLease, _Mapping]]] = ..., lease_ttl: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ["leases"]
    class LeaseState(_message.Message):
        __slots__ = ["expire_time", "held", "run_id"]
        EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
        HELD_FIELD_NUMBER: _ClassVar[int]
        RUN_ID_FIELD_NUMBER: _ClassVar[int]
        expire_time: _timestamp_pb2.Timestamp
        held: bool
        run_id: str
        def __init__(self, run_id: _Optional[str] = ..., held: bool = ..., expire_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
    LEASES_FIELD_NUMBER: _ClassVar[int]
    leases: _containers.RepeatedCompositeFieldContainer[HeartbeatResponse.LeaseState]
    def __init__(self, leases: _Optional[_Iterable[_Union[HeartbeatResponse.LeaseState, _Mapping]]] = ...) -> None: ...

class HeldLease(_message.Message):
    __slots__ = ["lease_token", "run_id"]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    lease_token: str
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., lease_token: _Optional[str] = ...) -> None: ...

class Lease(_message.Message):
    __slots__ = ["expire_time", "history", "lease_token", "run"]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    expire_time: _timestamp_pb2.Timestamp
    history: _history_pb2.RunHistory
    lease_token: str
    run: _run_pb2.Run
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ..., lease_token: _Optional[str] = ..., expire_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., history: _Optional[_Union[_history_pb2.RunHistory, _Mapping]] = ...) -> None: ...

class ListWorkersRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListWorkersResponse(_message.Message):
    __slots__ = ["workers"]
    class Worker(_message.Message):
        __slots__ = ["first_seen_time", "last_seen_time", "leased_run_ids", "shards", "transport", "worker_id", "worker_name", "workflows"]
        FIRST_SEEN_TIME_FIELD_NUMBER: _ClassVar[int]
        LAST_SEEN_TIME_FIELD_NUMBER: _ClassVar[int]
        LEASED_RUN_IDS_FIELD_NUMBER: _ClassVar[int]
        SHARDS_FIELD_NUMBER: _ClassVar[int]
        TRANSPORT_FIELD_NUMBER: _ClassVar[int]
        WORKER_ID_FIELD_NUMBER: _ClassVar[int]
        WORKER_NAME_FIELD_NUMBER: _ClassVar[int]
        WORKFLOWS_FIELD_NUMBER: _ClassVar[int]
        first_seen_time: _timestamp_pb2.Timestamp
        last_seen_time: _timestamp_pb2.Timestamp
        leased_run_ids: _containers.RepeatedScalarFieldContainer[str]
        shards: _containers.RepeatedScalarFieldContainer[str]
        transport: str
        worker_id: str
        worker_name: str
        workflows: _containers.RepeatedCompositeFieldContainer[WorkflowVersionRef]
        def __init__(self, worker_id: _Optional[str] = ..., worker_name: _Optional[str] = ..., workflows: _Optional[_Iterable[_Union[WorkflowVersionRef, _Mapping]]] = ..., shards: _Optional[_Iterable[str]] = ..., last_seen_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., leased_run_ids: _Optional[_Iterable[str]] = ..., transport: _Optional[str] = ..., first_seen_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    workers: _containers.RepeatedCompositeFieldContainer[ListWorkersResponse.Worker]
    def __init__(self, workers: _Optional[_Iterable[_Union[ListWorkersResponse.Worker, _Mapping]]] = ...) -> None: ...

class PollLeasesRequest(_message.Message):
    __slots__ = ["lease_ttl", "max_leases", "shards", "wait", "worker_id", "worker_name", "workflows"]
    LEASE_TTL_FIELD_NUMBER: _ClassVar[int]
    MAX_LEASES_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_NAME_FIELD_NUMBER: _ClassVar[int]
    WORKFLOWS_FIELD_NUMBER: _ClassVar[int]
    lease_ttl: _duration_pb2.Duration
    max_leases: int
    shards: _containers.RepeatedScalarFieldContainer[str]
    wait: _duration_pb2.Duration
    worker_id: str
    worker_name: str
    workflows: _containers.RepeatedCompositeFieldContainer[WorkflowVersionRef]
    def __init__(self, worker_id: _Optional[str] = ..., worker_name: _Optional[str] = ..., workflows: _Optional[_Iterable[_Union[WorkflowVersionRef, _Mapping]]] = ..., shards: _Optional[_Iterable[str]] = ..., max_leases: _Optional[int] = ..., wait: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., lease_ttl: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class PollLeasesResponse(_message.Message):
    __slots__ = ["leases"]
    LEASES_FIELD_NUMBER: _ClassVar[int]
    leases: _containers.RepeatedCompositeFieldContainer[Lease]
    def __init__(self, leases: _Optional[_Iterable[_Union[Lease, _Mapping]]] = ...) -> None: ...

class ReleaseLeaseRequest(_message.Message):
    __slots__ = ["lease_token", "reason", "run_id"]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    lease_token: str
    reason: str
    run_id: str
    def __init__(self, run_id: _Optional[str] = ..., lease_token: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReleaseLeaseResponse(_message.Message):
    __slots__ = ["run"]
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _run_pb2.Run
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ...) -> None: ...

class SessionRequest(_message.Message):
    __slots__ = ["call", "drain", "grant", "open"]
    class Call(_message.Message):
        __slots__ = ["call_id", "complete_run", "complete_task", "fail_run", "fail_task", "heartbeat", "release_lease", "start_child_run", "start_task", "suspend_run", "trace_context"]
        CALL_ID_FIELD_NUMBER: _ClassVar[int]
        COMPLETE_RUN_FIELD_NUMBER: _ClassVar[int]
        COMPLETE_TASK_FIELD_NUMBER: _ClassVar[int]
        FAIL_RUN_FIELD_NUMBER: _ClassVar[int]
        FAIL_TASK_FIELD_NUMBER: _ClassVar[int]
        HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
        RELEASE_LEASE_FIELD_NUMBER: _ClassVar[int]
        START_CHILD_RUN_FIELD_NUMBER: _ClassVar[int]
        START_TASK_FIELD_NUMBER: _ClassVar[int]
        SUSPEND_RUN_FIELD_NUMBER: _ClassVar[int]
        TRACE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
        call_id: int
        complete_run: CompleteRunRequest
        complete_task: _task_service_pb2.CompleteTaskRequest
        fail_run: FailRunRequest
        fail_task: _task_service_pb2.FailTaskRequest
        heartbeat: HeartbeatRequest
        release_lease: ReleaseLeaseRequest
        start_child_run: StartChildRunRequest
        start_task: _task_service_pb2.StartTaskRequest
        suspend_run: SuspendRunRequest
        trace_context: _run_pb2.TraceContext
        def __init__(self, call_id: _Optional[int] = ..., start_task: _Optional[_Union[_task_service_pb2.StartTaskRequest, _Mapping]] = ..., complete_task: _Optional[_Union[_task_service_pb2.CompleteTaskRequest, _Mapping]] = ..., fail_task: _Optional[_Union[_task_service_pb2.FailTaskRequest, _Mapping]] = ..., suspend_run: _Optional[_Union[SuspendRunRequest, _Mapping]] = ..., complete_run: _Optional[_Union[CompleteRunRequest, _Mapping]] = ..., fail_run: _Optional[_Union[FailRunRequest, _Mapping]] = ..., start_child_run: _Optional[_Union[StartChildRunRequest, _Mapping]] = ..., heartbeat: _Optional[_Union[HeartbeatRequest, _Mapping]] = ..., release_lease: _Optional[_Union[ReleaseLeaseRequest, _Mapping]] = ..., trace_context: _Optional[_Union[_run_pb2.TraceContext, _Mapping]] = ...) -> None: ...
    class Drain(_message.Message):
        __slots__ = []
        def __init__(self) -> None: ...
    class Grant(_message.Message):
        __slots__ = ["credits"]
        CREDITS_FIELD_NUMBER: _ClassVar[int]
        credits: int
        def __init__(self, credits: _Optional[int] = ...) -> None: ...
    class Open(_message.Message):
        __slots__ = ["credits", "lease_ttl", "shards", "worker_id", "worker_name", "workflows"]
        CREDITS_FIELD_NUMBER: _ClassVar[int]
        LEASE_TTL_FIELD_NUMBER: _ClassVar[int]
        SHARDS_FIELD_NUMBER: _ClassVar[int]
        WORKER_ID_FIELD_NUMBER: _ClassVar[int]
        WORKER_NAME_FIELD_NUMBER: _ClassVar[int]
        WORKFLOWS_FIELD_NUMBER: _ClassVar[int]
        credits: int
        lease_ttl: _duration_pb2.Duration
        shards: _containers.RepeatedScalarFieldContainer[str]
        worker_id: str
        worker_name: str
        workflows: _containers.RepeatedCompositeFieldContainer[WorkflowVersionRef]
        def __init__(self, worker_id: _Optional[str] = ..., worker_name: _Optional[str] = ..., workflows: _Optional[_Iterable[_Union[WorkflowVersionRef, _Mapping]]] = ..., shards: _Optional[_Iterable[str]] = ..., credits: _Optional[int] = ..., lease_ttl: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...
    CALL_FIELD_NUMBER: _ClassVar[int]
    DRAIN_FIELD_NUMBER: _ClassVar[int]
    GRANT_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    call: SessionRequest.Call
    drain: SessionRequest.Drain
    grant: SessionRequest.Grant
    open: SessionRequest.Open
    def __init__(self, open: _Optional[_Union[SessionRequest.Open, _Mapping]] = ..., grant: _Optional[_Union[SessionRequest.Grant, _Mapping]] = ..., drain: _Optional[_Union[SessionRequest.Drain, _Mapping]] = ..., call: _Optional[_Union[SessionRequest.Call, _Mapping]] = ...) -> None: ...

class SessionResponse(_message.Message):
    __slots__ = ["leases", "result"]
    class CallError(_message.Message):
        __slots__ = ["code", "details", "message"]
        CODE_FIELD_NUMBER: _ClassVar[int]
        DETAILS_FIELD_NUMBER: _ClassVar[int]
        MESSAGE_FIELD_NUMBER: _ClassVar[int]
        code: int
        details: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
        message: str
        def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., details: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...
    class Result(_message.Message):
        __slots__ = ["call_id", "complete_run", "complete_task", "error", "fail_run", "fail_task", "heartbeat", "release_lease", "start_child_run", "start_task", "suspend_run"]
        CALL_ID_FIELD_NUMBER: _ClassVar[int]
        COMPLETE_RUN_FIELD_NUMBER: _ClassVar[int]
        COMPLETE_TASK_FIELD_NUMBER: _ClassVar[int]
        ERROR_FIELD_NUMBER: _ClassVar[int]
        FAIL_RUN_FIELD_NUMBER: _ClassVar[int]
        FAIL_TASK_FIELD_NUMBER: _ClassVar[int]
        HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
        RELEASE_LEASE_FIELD_NUMBER: _ClassVar[int]
        START_CHILD_RUN_FIELD_NUMBER: _ClassVar[int]
        START_TASK_FIELD_NUMBER: _ClassVar[int]
        SUSPEND_RUN_FIELD_NUMBER: _ClassVar[int]
        call_id: int
        complete_run: CompleteRunResponse
        complete_task: _task_service_pb2.CompleteTaskResponse
        error: SessionResponse.CallError
        fail_run: FailRunResponse
        fail_task: _task_service_pb2.FailTaskResponse
        heartbeat: HeartbeatResponse
        release_lease: ReleaseLeaseResponse
        start_child_run: StartChildRunResponse
        start_task: _task_service_pb2.StartTaskResponse
        suspend_run: SuspendRunResponse
        def __init__(self, call_id: _Optional[int] = ..., start_task: _Optional[_Union[_task_service_pb2.StartTaskResponse, _Mapping]] = ..., complete_task: _Optional[_Union[_task_service_pb2.CompleteTaskResponse, _Mapping]] = ..., fail_task: _Optional[_Union[_task_service_pb2.FailTaskResponse, _Mapping]] = ..., suspend_run: _Optional[_Union[SuspendRunResponse, _Mapping]] = ..., complete_run: _Optional[_Union[CompleteRunResponse, _Mapping]] = ..., fail_run: _Optional[_Union[FailRunResponse, _Mapping]] = ..., start_child_run: _Optional[_Union[StartChildRunResponse, _Mapping]] = ..., heartbeat: _Optional[_Union[HeartbeatResponse, _Mapping]] = ..., release_lease: _Optional[_Union[ReleaseLeaseResponse, _Mapping]] = ..., error: _Optional[_Union[SessionResponse.CallError, _Mapping]] = ...) -> None: ...
    LEASES_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    leases: StreamLeasesResponse
    result: SessionResponse.Result
    def __init__(self, leases: _Optional[_Union[StreamLeasesResponse, _Mapping]] = ..., result: _Optional[_Union[SessionResponse.Result, _Mapping]] = ...) -> None: ...

class StartChildRunRequest(_message.Message):
    __slots__ = ["conflict_policy", "input", "key", "lease_token", "parent_run_id", "reference_id", "retry", "sequence", "shard", "tags", "trace_context", "trigger", "workflow_name", "workflow_version_id"]
    class TagsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CONFLICT_POLICY_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PARENT_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    RETRY_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    TRACE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_NAME_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    conflict_policy: _run_pb2.ReferenceConflictPolicy
    input: _struct_pb2.Value
    key: str
    lease_token: str
    parent_run_id: str
    reference_id: str
    retry: _run_pb2.RetryPolicy
    sequence: int
    shard: str
    tags: _containers.ScalarMap[str, str]
    trace_context: _run_pb2.TraceContext
    trigger: _run_pb2.Trigger
    workflow_name: str
    workflow_version_id: str
    def __init__(self, parent_run_id: _Optional[str] = ..., lease_token: _Optional[str] = ..., workflow_name: _Optional[str] = ..., workflow_version_id: _Optional[str] = ..., input: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., key: _Optional[str] = ..., sequence: _Optional[int] = ..., reference_id: _Optional[str] = ..., conflict_policy: _Optional[_Union[_run_pb2.ReferenceConflictPolicy, str]] = ..., shard: _Optional[str] = ..., trigger: _Optional[_Union[_run_pb2.Trigger, _Mapping]] = ..., retry: _Optional[_Union[_run_pb2.RetryPolicy, _Mapping]] = ..., tags: _Optional[_Mapping[str, str]] = ..., trace_context: _Optional[_Union[_run_pb2.TraceContext, _Mapping]] = ...) -> None: ...

class StartChildRunResponse(_message.Message):
    __slots__ = ["existing", "run"]
    EXISTING_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    existing: bool
    run: _run_pb2.Run
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ..., existing: bool = ...) -> None: ...

class StreamLeasesRequest(_message.Message):
    __slots__ = ["lease_ttl", "max_in_flight", "shards", "worker_id", "worker_name", "workflows"]
    LEASE_TTL_FIELD_NUMBER: _ClassVar[int]
    MAX_IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_NAME_FIELD_NUMBER: _ClassVar[int]
    WORKFLOWS_FIELD_NUMBER: _ClassVar[int]
    lease_ttl: _duration_pb2.Duration
    max_in_flight: int
    shards: _containers.RepeatedScalarFieldContainer[str]
    worker_id: str
    worker_name: str
    workflows: _containers.RepeatedCompositeFieldContainer[WorkflowVersionRef]
    def __init__(self, worker_id: _Optional[str] = ..., worker_name: _Optional[str] = ..., workflows: _Optional[_Iterable[_Union[WorkflowVersionRef, _Mapping]]] = ..., shards: _Optional[_Iterable[str]] = ..., max_in_flight: _Optional[int] = ..., lease_ttl: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class StreamLeasesResponse(_message.Message):
    __slots__ = ["leases"]
    LEASES_FIELD_NUMBER: _ClassVar[int]
    leases: _containers.RepeatedCompositeFieldContainer[Lease]
    def __init__(self, leases: _Optional[_Iterable[_Union[Lease, _Mapping]]] = ...) -> None: ...

class SuspendRunRequest(_message.Message):
    __slots__ = ["child_wait", "completed_tasks", "event_wait", "lease_token", "run_id", "sleep", "task_retry"]
    class ChildWait(_message.Message):
        __slots__ = ["awaited_status", "child_run_id", "sequence", "timeout"]
        AWAITED_STATUS_FIELD_NUMBER: _ClassVar[int]
        CHILD_RUN_ID_FIELD_NUMBER: _ClassVar[int]
        SEQUENCE_FIELD_NUMBER: _ClassVar[int]
        TIMEOUT_FIELD_NUMBER: _ClassVar[int]
        awaited_status: _run_pb2.RunStatus
        child_run_id: str
        sequence: int
        timeout: _duration_pb2.Duration
        def __init__(self, child_run_id: _Optional[str] = ..., sequence: _Optional[int] = ..., awaited_status: _Optional[_Union[_run_pb2.RunStatus, str]] = ..., timeout: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...
    class EventWait(_message.Message):
        __slots__ = ["event_name", "sequence", "timeout"]
        EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
        SEQUENCE_FIELD_NUMBER: _ClassVar[int]
        TIMEOUT_FIELD_NUMBER: _ClassVar[int]
        event_name: str
        sequence: int
        timeout: _duration_pb2.Duration
        def __init__(self, event_name: _Optional[str] = ..., sequence: _Optional[int] = ..., timeout: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...
    class Sleep(_message.Message):
        __slots__ = ["duration", "name", "sequence"]
        DURATION_FIELD_NUMBER: _ClassVar[int]
        NAME_FIELD_NUMBER: _ClassVar[int]
        SEQUENCE_FIELD_NUMBER: _ClassVar[int]
        duration: _duration_pb2.Duration
        name: str
        sequence: int
        def __init__(self, name: _Optional[str] = ..., sequence: _Optional[int] = ..., duration: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...
    class TaskRetry(_message.Message):
        __slots__ = ["task_id"]
        TASK_ID_FIELD_NUMBER: _ClassVar[int]
        task_id: str
        def __init__(self, task_id: _Optional[str] = ...) -> None: ...
    CHILD_WAIT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_TASKS_FIELD_NUMBER: _ClassVar[int]
    EVENT_WAIT_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SLEEP_FIELD_NUMBER: _ClassVar[int]
    TASK_RETRY_FIELD_NUMBER: _ClassVar[int]
    child_wait: SuspendRunRequest.ChildWait
    completed_tasks: _containers.RepeatedCompositeFieldContainer[_task_service_pb2.TaskCompletion]
    event_wait: SuspendRunRequest.EventWait
    lease_token: str
    run_id: str
    sleep: SuspendRunRequest.Sleep
    task_retry: SuspendRunRequest.TaskRetry
    def __init__(self, run_id: _Optional[str] = ..., lease_token: _Optional[str] = ..., sleep: _Optional[_Union[SuspendRunRequest.Sleep, _Mapping]] = ..., event_wait: _Optional[_Union[SuspendRunRequest.EventWait, _Mapping]] = ..., child_wait: _Optional[_Union[SuspendRunRequest.ChildWait, _Mapping]] = ..., task_retry: _Optional[_Union[SuspendRunRequest.TaskRetry, _Mapping]] = ..., completed_tasks: _Optional[_Iterable[_Union[_task_service_pb2.TaskCompletion, _Mapping]]] = ...) -> None: ...

class SuspendRunResponse(_message.Message):
    __slots__ = ["history", "run", "suspended"]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    SUSPENDED_FIELD_NUMBER: _ClassVar[int]
    history: _history_pb2.RunHistory
    run: _run_pb2.Run
    suspended: bool
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ..., suspended: bool = ..., history: _Optional[_Union[_history_pb2.RunHistory, _Mapping]] = ...) -> None: ...

class WorkflowVersionRef(_message.Message):
    __slots__ = ["workflow_name", "workflow_version_id"]
    WORKFLOW_NAME_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    workflow_name: str
    workflow_version_id: str
    def __init__(self, workflow_name: _Optional[str] = ..., workflow_version_id: _Optional[str] = ...) -> None: ...
