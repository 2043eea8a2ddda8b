"""How the worker talks to the server: unary calls with PollLeases, or one Session stream.

Both answer a write with the response of the unary RPC of the same name, or raise CallRefused
with the gRPC code and the typed details the server attached; both deliver leases.
"""

from __future__ import annotations

import itertools
import queue
import threading
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2

from aiki.v1 import task_service_pb2_grpc
from aiki.v1 import worker_lease_service_pb2 as wl
from aiki.v1 import worker_lease_service_pb2_grpc

from .rpc_status import status_details


class CallRefused(Exception):
    """A write the server refused or could not answer: its code and typed details."""

    def __init__(self, code: grpc.StatusCode, message: str, details: list[any_pb2.Any]) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.details = details

    def detail(self, message_type: type) -> Any:
        """The detail of this type (e.g. error_details_pb2.LeaseLostDetail), if the refusal has one."""
        for any_detail in self.details:
            if any_detail.Is(message_type.DESCRIPTOR):
                found = message_type()
                any_detail.Unpack(found)
                return found
        return None


def _duration(seconds: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromMilliseconds(int(round(seconds * 1000)))
    return d


# The writes, by their field name in SessionRequest.Call: (service, unary method).
_WRITES = {
    "start_task": ("tasks", "StartTask"),
    "complete_task": ("tasks", "CompleteTask"),
    "fail_task": ("tasks", "FailTask"),
    "suspend_run": ("leases", "SuspendRun"),
    "complete_run": ("leases", "CompleteRun"),
    "fail_run": ("leases", "FailRun"),
    "start_child_run": ("leases", "StartChildRun"),
    "heartbeat": ("leases", "Heartbeat"),
    "release_lease": ("leases", "ReleaseLease"),
}


class UnaryTransport:
    """PollLeases (a long-poll) for leases, one unary RPC per write."""

    def __init__(self, channel: grpc.Channel, identity: dict[str, Any], lease_ttl_seconds: float, metadata: tuple[tuple[str, str], ...]) -> None:
        self._stubs = {
            "tasks": task_service_pb2_grpc.TaskServiceStub(channel),
            "leases": worker_lease_service_pb2_grpc.WorkerLeaseServiceStub(channel),
        }
        self._identity = identity
        self._ttl = lease_ttl_seconds
        self._metadata = metadata

    def leases(self, wait_seconds: float) -> list[wl.Lease]:
        request = wl.PollLeasesRequest(max_leases=1, wait=_duration(wait_seconds), lease_ttl=_duration(self._ttl), **self._identity)
        return list(self._stubs["leases"].PollLeases(request, metadata=self._metadata, timeout=wait_seconds + 30).leases)

    def call(self, kind: str, request: Any) -> Any:
        service, method = _WRITES[kind]
        try:
            return getattr(self._stubs[service], method)(request, metadata=self._metadata, timeout=30)
        except grpc.RpcError as error:
            raise CallRefused(error.code(), error.details() or "", status_details(error)) from error

    def done_with_lease(self) -> None:
        pass

    def close(self) -> None:
        pass


class SessionTransport:
    """One WorkerLeaseService.Session: leases pushed within the credits granted, writes answered by call id."""

    def __init__(self, channel: grpc.Channel, identity: dict[str, Any], lease_ttl_seconds: float, metadata: tuple[tuple[str, str], ...]) -> None:
        self._requests: queue.Queue[wl.SessionRequest | None] = queue.Queue()
        self._leases: queue.Queue[wl.Lease | None] = queue.Queue()
        self._answers: dict[int, queue.Queue[Any]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._ended: CallRefused | None = None
        # One run at a time: one credit now, one more each time a run is done with.
        self._requests.put(wl.SessionRequest(open=wl.SessionRequest.Open(credits=1, lease_ttl=_duration(lease_ttl_seconds), **identity)))
        stub = worker_lease_service_pb2_grpc.WorkerLeaseServiceStub(channel)
        self._responses = stub.Session(iter(self._requests.get, None), metadata=metadata)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for response in self._responses:
                if response.WhichOneof("kind") == "leases":
                    for lease in response.leases.leases:
                        self._leases.put(lease)
                else:
                    with self._lock:
                        answer = self._answers.pop(response.result.call_id, None)
                    if answer is not None:
                        answer.put(response.result)
            self._ended = CallRefused(grpc.StatusCode.UNAVAILABLE, "the session ended", [])
        except grpc.RpcError as error:
            self._ended = CallRefused(error.code(), error.details() or "", status_details(error))
        finally:
            with self._lock:
                waiting, self._answers = list(self._answers.values()), {}
            for answer in waiting:
                answer.put(None)
            self._leases.put(None)

    def leases(self, wait_seconds: float) -> list[wl.Lease]:
        try:
            lease = self._leases.get(timeout=wait_seconds)
        except queue.Empty:
            return []
        if lease is None:
            self._leases.put(None)
            raise self._ended or CallRefused(grpc.StatusCode.UNAVAILABLE, "the session ended", [])
        return [lease]

    def call(self, kind: str, request: Any) -> Any:
        answer: queue.Queue[Any] = queue.Queue()
        with self._lock:
            if self._ended:
                raise self._ended
            call_id = next(self._ids) % 2**32
            self._answers[call_id] = answer
        self._requests.put(wl.SessionRequest(call=wl.SessionRequest.Call(call_id=call_id, **{kind: request})))
        try:
            result = answer.get(timeout=30)
        except queue.Empty:
            with self._lock:
                self._answers.pop(call_id, None)
            raise CallRefused(grpc.StatusCode.DEADLINE_EXCEEDED, f"{kind} was not answered in 30 s", []) from None
        if result is None:
            raise self._ended or CallRefused(grpc.StatusCode.UNAVAILABLE, "the session ended", [])
        which = result.WhichOneof("response")
        if which == "error":
            code = next((c for c in grpc.StatusCode if c.value[0] == result.error.code), grpc.StatusCode.UNKNOWN)
            raise CallRefused(code, result.error.message, list(result.error.details))
        return getattr(result, which)

    def done_with_lease(self) -> None:
        self._requests.put(wl.SessionRequest(grant=wl.SessionRequest.Grant(credits=1)))

    def close(self) -> None:
        """Drain (no more leases), give back leases not started, end our side: the server ends the
        stream once every call is answered."""
        self._requests.put(wl.SessionRequest(drain=wl.SessionRequest.Drain()))
        while True:
            try:
                lease = self._leases.get_nowait()
            except queue.Empty:
                break
            if lease is None:
                break
            try:
                self.call("release_lease", wl.ReleaseLeaseRequest(run_id=lease.run.id, lease_token=lease.lease_token, reason="worker stopping"))
            except CallRefused:
                pass  # lost meanwhile: nothing to give back
        self._requests.put(None)
        self._reader.join(timeout=30)
