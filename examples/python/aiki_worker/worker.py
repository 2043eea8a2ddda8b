"""A small Aiki worker: takes leases (PollLeases or a Session stream) and replays handlers on their history.

It follows the replay protocol at the top of proto/aiki/v1/worker_lease_service.proto (explained
in docs/worker-protocol.md) and nothing else: no TypeScript is involved. A handler is a plain
function ``handler(run, input)``; every durable call goes through ``run``:

    run.task(task, input)            -> the task's output (executed once, replayed after)
    run.sleep(name, seconds)         -> {"cancelled": bool}
    run.wait_event(name, timeout=)   -> {"timeout": False, "data": ...} or {"timeout": True}
    run.start_child(name, version, input, reference_id="") -> the child's run id
    run.wait_child(run_id, timeout=) -> {"timeout": False, "status": "completed", "output": ...}

One run executes at a time, on the thread that calls ``poll_once``; a heartbeat thread keeps its
lease alive. ``transport="poll"`` uses PollLeases and one unary RPC per write, ``"session"`` one
WorkerLeaseService.Session stream for leases and writes (transport.py). Task successes are recorded with CompleteTask at once, so no completion is ever
pending before a write that cannot carry it (rule 7 of the protocol).
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable, NoReturn

import grpc
from google.protobuf import duration_pb2, json_format, struct_pb2

from aiki.v1 import error_details_pb2, history_pb2, payload_pb2, run_pb2, task_service_pb2
from aiki.v1 import worker_lease_service_pb2 as wl

from .canonical import ABSENT, child_run_key, task_address
from .transport import CallRefused, SessionTransport, UnaryTransport

TaskStatus = history_pb2.TaskStatus


@dataclass(frozen=True)
class Task:
    """A unit of work. ``max_attempts`` counts every attempt, the first included."""

    name: str
    handler: Callable[[Any], Any]
    max_attempts: int = 1
    retry_delay_seconds: float = 0.0


@dataclass(frozen=True)
class Workflow:
    """One version of a workflow: ``handler(run, input)`` returns the run's output."""

    name: str
    version: str
    handler: Callable[["RunContext", Any], Any]


class NonRetryable(Exception):
    """Raised by a task or workflow handler to fail without retry."""


class TaskFailed(Exception):
    """A task failed for good; raised into the workflow handler (again on every replay)."""

    def __init__(self, task_name: str, failure: payload_pb2.Failure) -> None:
        super().__init__(f'task "{task_name}" failed: {failure.message}')
        self.task_name = task_name
        self.failure = failure


class NonDeterminism(Exception):
    """The handler no longer does what the run recorded: the run fails without retry (the failure's type)."""


class _ExecutionEnded(BaseException):
    """Unwinds the handler once the run suspended or the lease was lost (user code must not catch it)."""


def to_value(data: Any) -> struct_pb2.Value | None:
    return None if data is ABSENT else json_format.ParseDict(data, struct_pb2.Value())


def from_value(message: Any, field: str) -> Any:
    """A Value field as plain data (numbers come back as floats), ABSENT when unset."""
    return json_format.MessageToDict(getattr(message, field)) if message.HasField(field) else ABSENT


def _duration(seconds: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromMilliseconds(int(round(seconds * 1000)))
    return d


def _failure(error: BaseException) -> payload_pb2.Failure:
    return payload_pb2.Failure(
        message=str(error) or type(error).__name__,
        type=type(error).__name__,
        stack="".join(traceback.format_exception(error))[-4000:],
        non_retryable=isinstance(error, (NonRetryable, NonDeterminism)),
    )


class _History:
    """The run's records by (kind, key, sequence), and which of them this execution has matched."""

    def __init__(self, history: history_pb2.RunHistory) -> None:
        self.records: dict[tuple[str, str, int], Any] = {}
        for t in history.tasks:
            self.records[("task", t.address, t.sequence)] = t
        for s in history.sleeps:
            self.records[("sleep", s.name, s.sequence)] = s
        for w in history.event_waits:
            self.records[("event_wait", w.event_name, w.sequence)] = w
        for c in history.child_runs:
            self.records[("child_run", c.key, c.sequence)] = c
        for w in history.child_waits:
            self.records[("child_wait", w.child_run_id, w.sequence)] = w
        self.consumed: set[tuple[str, str, int]] = set()
        self.next_sequence: dict[tuple[str, str], int] = {}

    def claim(self, kind: str, key: str) -> tuple[int, Any]:
        sequence = self.next_sequence.get((kind, key), 0)
        self.next_sequence[(kind, key)] = sequence + 1
        record = self.records.get((kind, key, sequence))
        if record is not None:
            self.consumed.add((kind, key, sequence))
        return sequence, record

    def unconsumed(self) -> list[tuple[tuple[str, str, int], Any]]:
        return [(k, r) for k, r in self.records.items() if k not in self.consumed]


class RunContext:
    """A run's door to durable calls during one execution (one lease)."""

    def __init__(self, worker: "Worker", lease: wl.Lease) -> None:
        self._worker = worker
        self.run = lease.run
        self.id = lease.run.id
        self._token = lease.lease_token
        self._history = _History(lease.history)

    # ---- calls ----

    def task(self, task: Task, input: Any = ABSENT) -> Any:
        address = task_address(task.name, input)
        sequence, record = self._history.claim("task", address)
        if record is None:
            self._check_address_mismatch(task.name, address)
            self._check_new_call(f'task "{task.name}" ({address}) #{sequence}')
        elif record.status == TaskStatus.TASK_STATUS_COMPLETED:
            return self._output(record)
        elif record.status == TaskStatus.TASK_STATUS_FAILED and record.workflow_attempt == self.run.attempt:
            raise TaskFailed(task.name, record.failure)
        elif record.status == TaskStatus.TASK_STATUS_AWAITING_RETRY:
            self._await_retry(record)
        # Not finished for this workflow attempt (or not recorded): StartTask decides.
        while True:
            started = self._write(
                "start_task",
                task_service_pb2.StartTaskRequest(
                    run_id=self.id,
                    lease_token=self._token,
                    name=task.name,
                    address=address,
                    sequence=sequence,
                    input=to_value(input),
                    max_attempts=task.max_attempts,
                    attempt_id=str(uuid.uuid4()),
                ),
            ).task
            if started.status == TaskStatus.TASK_STATUS_COMPLETED:
                return self._output(started)
            if started.status == TaskStatus.TASK_STATUS_FAILED:
                raise TaskFailed(task.name, started.failure)
            self._worker.emit("task_attempt", run=self.id, task=task.name, attempt=started.attempts)
            try:
                output = task.handler(None if input is ABSENT else input)
            except Exception as error:  # noqa: BLE001 - a task's failure is data
                failure = _failure(error)
                retry = not failure.non_retryable and started.attempts < task.max_attempts
                self._write(
                    "fail_task",
                    task_service_pb2.FailTaskRequest(
                        run_id=self.id,
                        lease_token=self._token,
                        task_id=started.id,
                        attempt=started.attempts,
                        failure=failure,
                        retry_delay=_duration(task.retry_delay_seconds) if retry else None,
                    ),
                )
                if not retry:
                    raise TaskFailed(task.name, failure) from error
                self._await_retry_delay(started.id, task.retry_delay_seconds)
                continue
            self._write(
                "complete_task",
                task_service_pb2.CompleteTaskRequest(
                    run_id=self.id, lease_token=self._token, task_id=started.id, attempt=started.attempts, output=to_value(output)
                ),
            )
            # What a replay will return: the output as the server stores it.
            return json_format.MessageToDict(to_value(output))

    def sleep(self, name: str, seconds: float) -> dict[str, bool]:
        sequence, record = self._history.claim("sleep", name)
        done = (history_pb2.SleepStatus.SLEEP_STATUS_COMPLETED, history_pb2.SleepStatus.SLEEP_STATUS_CANCELLED)
        if record is None:
            self._check_new_call(f'sleep "{name}" #{sequence}')
        elif record.status in done:
            return {"cancelled": record.status == history_pb2.SleepStatus.SLEEP_STATUS_CANCELLED}
        response = self._suspend(sleep=wl.SuspendRunRequest.Sleep(name=name, sequence=sequence, duration=_duration(seconds)))
        found = next(s for s in response.history.sleeps if s.name == name and s.sequence == sequence)
        return {"cancelled": found.status == history_pb2.SleepStatus.SLEEP_STATUS_CANCELLED}

    def wait_event(self, event_name: str, timeout_seconds: float | None = None) -> dict[str, Any]:
        sequence, record = self._history.claim("event_wait", event_name)
        if record is None:
            self._check_new_call(f'wait for event "{event_name}" #{sequence}')
        elif record.status != history_pb2.EventWaitStatus.EVENT_WAIT_STATUS_WAITING:
            return self._event_result(record)
        response = self._suspend(
            event_wait=wl.SuspendRunRequest.EventWait(
                event_name=event_name, sequence=sequence, timeout=None if timeout_seconds is None else _duration(timeout_seconds)
            )
        )
        return self._event_result(next(w for w in response.history.event_waits if w.event_name == event_name and w.sequence == sequence))

    def start_child(self, workflow_name: str, version: str, input: Any = ABSENT, reference_id: str = "") -> str:
        key = child_run_key(reference_id, input)
        sequence, record = self._history.claim("child_run", key)
        call = f'child run of "{workflow_name}" {version} (key {key}) #{sequence}'
        if record is not None:
            if (record.workflow_name, record.workflow_version_id) != (workflow_name, version):
                self._non_deterministic(f'{call}, where history has a child of "{record.workflow_name}" {record.workflow_version_id}')
            return record.child_run_id
        self._check_new_call(call)
        response = self._write(
            "start_child_run",
            wl.StartChildRunRequest(
                parent_run_id=self.id,
                lease_token=self._token,
                workflow_name=workflow_name,
                workflow_version_id=version,
                input=to_value(input),
                key=key,
                sequence=sequence,
                reference_id=reference_id,
            ),
        )
        return response.run.id

    def wait_child(self, child_run_id: str, timeout_seconds: float | None = None) -> dict[str, Any]:
        sequence, record = self._history.claim("child_wait", child_run_id)
        if record is None:
            self._check_new_call(f"wait for child run {child_run_id} #{sequence}")
        elif record.status != history_pb2.ChildWaitStatus.CHILD_WAIT_STATUS_WAITING:
            return self._child_result(record)
        response = self._suspend(
            child_wait=wl.SuspendRunRequest.ChildWait(
                child_run_id=child_run_id,
                sequence=sequence,
                awaited_status=run_pb2.RunStatus.RUN_STATUS_COMPLETED,
                timeout=None if timeout_seconds is None else _duration(timeout_seconds),
            )
        )
        return self._child_result(next(w for w in response.history.child_waits if w.child_run_id == child_run_id and w.sequence == sequence))

    # ---- the run's last word ----

    def complete(self, output: Any) -> None:
        self._write("complete_run", wl.CompleteRunRequest(run_id=self.id, lease_token=self._token, output=to_value(output)))

    def fail(self, error: BaseException, cause: int) -> None:
        self._write("fail_run", wl.FailRunRequest(run_id=self.id, lease_token=self._token, failure=_failure(error), cause=cause))

    # ---- rules ----

    def _check_new_call(self, call: str) -> None:
        """Rule 5: a call history does not have, while recorded calls wait unmatched, is non-determinism."""
        unconsumed = self._history.unconsumed()
        if unconsumed:
            listed = "; ".join(f"{kind} {key} #{sequence}" for (kind, key, sequence), _ in unconsumed)
            self._non_deterministic(f"{call} is not in the run's history, but these recorded entries were never reached: {listed}")

    def _check_address_mismatch(self, task_name: str, address: str) -> None:
        """A record of this very call (same task, same input) under another address: never run it again."""
        for (kind, _, _), record in self._history.unconsumed():
            if kind == "task" and record.name == task_name and record.address != address:
                if task_address(record.name, from_value(record, "input")) == address:
                    self._non_deterministic(
                        f'task "{task_name}" was called at address {address}, but its record (same task, same input) '
                        f"has address {record.address}"
                    )

    def _non_deterministic(self, message: str) -> NoReturn:
        """Fails the run at once (the handler never sees it): its code no longer matches its history."""
        self.fail(NonDeterminism(message), run_pb2.RunFailureCause.RUN_FAILURE_CAUSE_NON_DETERMINISM)
        self._worker.emit("failed", run=self.id, cause="non_determinism", message=message)
        raise _ExecutionEnded("non-determinism")

    def _await_retry(self, record: history_pb2.Task) -> None:
        wait = record.next_attempt_time.ToMilliseconds() / 1000 - time.time()
        if wait > 0:
            self._await_retry_delay(record.id, wait)

    def _await_retry_delay(self, task_id: str, seconds: float) -> None:
        if seconds <= self._worker.inline_retry_max_seconds:
            time.sleep(max(seconds, 0))
        else:
            self._suspend(task_retry=wl.SuspendRunRequest.TaskRetry(task_id=task_id))

    def _suspend(self, **wait: Any) -> wl.SuspendRunResponse:
        response = self._write("suspend_run", wl.SuspendRunRequest(run_id=self.id, lease_token=self._token, **wait))
        if response.suspended:
            self._worker.emit("suspended", run=self.id, wait=next(iter(wait)))
            raise _ExecutionEnded("suspended")
        return response

    def _write(self, kind: str, request: Any) -> Any:
        try:
            return self._worker.transport.call(kind, request)
        except CallRefused as refused:
            if refused.code == grpc.StatusCode.FAILED_PRECONDITION and refused.detail(error_details_pb2.LeaseLostDetail):
                self._worker.emit("lease_lost", run=self.id)
                raise _ExecutionEnded("lease lost") from refused
            raise

    @staticmethod
    def _output(record: history_pb2.Task) -> Any:
        output = from_value(record, "output")
        return None if output is ABSENT else output

    @staticmethod
    def _event_result(record: history_pb2.EventWaitRecord) -> dict[str, Any]:
        if record.status == history_pb2.EventWaitStatus.EVENT_WAIT_STATUS_TIMED_OUT:
            return {"timeout": True}
        data = from_value(record.event, "data")
        return {"timeout": False, "data": None if data is ABSENT else data}

    @staticmethod
    def _child_result(record: history_pb2.ChildWaitRecord) -> dict[str, Any]:
        if record.status == history_pb2.ChildWaitStatus.CHILD_WAIT_STATUS_TIMED_OUT:
            return {"timeout": True}
        status = run_pb2.RunStatus.Name(record.child_status).removeprefix("RUN_STATUS_").lower()
        output = from_value(record, "output")
        return {
            "timeout": False,
            "status": status,
            "output": None if output is ABSENT else output,
            "failure": record.failure.message if record.HasField("failure") else None,
        }


class Worker:
    """Takes leases of its workflows (PollLeases, or a Session stream) and executes them one at a time."""

    def __init__(
        self,
        channel: grpc.Channel,
        worker_id: str,
        workflows: Iterable[Workflow],
        metadata: tuple[tuple[str, str], ...] = (),
        transport: str = "poll",
        lease_ttl_seconds: float = 30.0,
        inline_retry_max_seconds: float = 1.0,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.worker_id = worker_id
        self.workflows = {(w.name, w.version): w for w in workflows}
        self.lease_ttl_seconds = lease_ttl_seconds
        self.inline_retry_max_seconds = inline_retry_max_seconds
        self._on_event = on_event
        identity = {
            "worker_id": worker_id,
            "worker_name": "aiki-python-worker",
            "workflows": [wl.WorkflowVersionRef(workflow_name=n, workflow_version_id=v) for n, v in self.workflows],
        }
        kinds = {"poll": UnaryTransport, "session": SessionTransport}
        self.transport = kinds[transport](channel, identity, lease_ttl_seconds, metadata)

    def emit(self, event: str, **fields: Any) -> None:
        if self._on_event:
            self._on_event({"event": event, **fields})

    def poll_once(self, wait_seconds: float = 5.0) -> int:
        """Takes what is ready (waiting up to wait_seconds for it), executes it; returns how many runs."""
        leases = self.transport.leases(wait_seconds)
        for lease in leases:
            try:
                self.execute(lease)
            finally:
                self.transport.done_with_lease()
        return len(leases)

    def run(self, stop: threading.Event, wait_seconds: float = 2.0) -> None:
        try:
            while not stop.is_set():
                self.poll_once(wait_seconds)
        finally:
            self.transport.close()

    def execute(self, lease: wl.Lease) -> None:
        run = RunContext(self, lease)
        workflow = self.workflows[(lease.run.workflow_name, lease.run.workflow_version_id)]
        self.emit("leased", run=run.id, workflow=workflow.name, attempt=lease.run.attempt)
        beating = threading.Event()
        heart = threading.Thread(target=self._heartbeat, args=(lease, beating), daemon=True)
        heart.start()
        try:
            input = from_value(lease.run, "input")
            try:
                output = workflow.handler(run, None if input is ABSENT else input)
            except TaskFailed as error:
                run.fail(error, run_pb2.RunFailureCause.RUN_FAILURE_CAUSE_TASK)
                self.emit("failed", run=run.id, cause="task", message=str(error))
            except CallRefused as refused:
                # A write the server refused otherwise than for the lease (or could not answer):
                # write nothing more and leave the lease to expire; the run resumes elsewhere.
                self.emit("write_failed", run=run.id, code=refused.code.name, message=refused.message)
            except Exception as error:  # noqa: BLE001 - the handler's failure is the run's
                run.fail(error, run_pb2.RunFailureCause.RUN_FAILURE_CAUSE_HANDLER)
                self.emit("failed", run=run.id, cause="handler", message=str(error))
            else:
                run.complete(output)
                self.emit("completed", run=run.id)
        except _ExecutionEnded:
            pass
        except CallRefused as refused:
            # The run's last write itself failed: the lease expires and the run resumes elsewhere.
            self.emit("write_failed", run=run.id, code=refused.code.name, message=refused.message)
        finally:
            beating.set()
            heart.join()

    def _heartbeat(self, lease: wl.Lease, stop: threading.Event) -> None:
        held = wl.HeldLease(run_id=lease.run.id, lease_token=lease.lease_token)
        while not stop.wait(self.lease_ttl_seconds / 3):
            try:
                self.transport.call("heartbeat", wl.HeartbeatRequest(worker_id=self.worker_id, leases=[held], lease_ttl=_duration(self.lease_ttl_seconds)))
            except CallRefused:
                pass  # the next write says whether the lease is lost
