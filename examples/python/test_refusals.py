"""Refusals a worker acts on, read by aiki_worker.rpc_status from a real server (AIKI_TARGET).

Run by python-worker.test.ts against a test server; by hand: AIKI_TARGET=127.0.0.1:9850
/usr/bin/python3 -m unittest test_refusals (from examples/python).
"""

from __future__ import annotations

import hashlib
import os
import sys
import unittest
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "gen" / "python"))

import grpc  # noqa: E402
from google.protobuf import duration_pb2  # noqa: E402

from aiki.v1 import error_details_pb2, history_pb2, run_pb2, run_service_pb2, run_service_pb2_grpc  # noqa: E402
from aiki.v1 import task_service_pb2, task_service_pb2_grpc  # noqa: E402
from aiki.v1 import worker_lease_service_pb2 as wl  # noqa: E402
from aiki.v1 import worker_lease_service_pb2_grpc  # noqa: E402
from aiki_worker.canonical import task_address  # noqa: E402
from aiki_worker.rpc_status import detail  # noqa: E402
from aiki_worker.worker import to_value  # noqa: E402


class Refusals(unittest.TestCase):
    def setUp(self) -> None:
        self.channel = grpc.insecure_channel(os.environ["AIKI_TARGET"])
        self.runs = run_service_pb2_grpc.RunServiceStub(self.channel)
        self.leases = worker_lease_service_pb2_grpc.WorkerLeaseServiceStub(self.channel)
        self.tasks = task_service_pb2_grpc.TaskServiceStub(self.channel)

    def tearDown(self) -> None:
        self.channel.close()

    def lease(self) -> wl.Lease:
        name = f"py-refusals-{uuid.uuid4()}"
        self.runs.StartRun(run_service_pb2.StartRunRequest(workflow_name=name, workflow_version_id="1"))
        response = self.leases.PollLeases(
            wl.PollLeasesRequest(
                worker_id="py-refusals",
                workflows=[wl.WorkflowVersionRef(workflow_name=name, workflow_version_id="1")],
                wait=duration_pb2.Duration(seconds=5),
            )
        )
        self.assertEqual(len(response.leases), 1)
        return response.leases[0]

    def test_a_lost_lease_carries_lease_lost_detail(self) -> None:
        run_id = str(uuid.uuid4())
        with self.assertRaises(grpc.RpcError) as refused:
            self.leases.CompleteRun(wl.CompleteRunRequest(run_id=run_id, lease_token=str(uuid.uuid4())))
        self.assertEqual(refused.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        lost = detail(refused.exception, error_details_pb2.LeaseLostDetail)
        self.assertIsNotNone(lost)
        self.assertEqual((lost.run_id, lost.current_status), (run_id, run_pb2.RunStatus.RUN_STATUS_UNSPECIFIED))

    def test_an_address_from_other_json_is_refused_with_address_mismatch_detail(self) -> None:
        lease = self.lease()
        wrong = "double:" + hashlib.sha256(b'{"n":5.0}').hexdigest()
        request = dict(run_id=lease.run.id, lease_token=lease.lease_token, name="double", sequence=0, input=to_value({"n": 5.0}), max_attempts=1)
        with self.assertRaises(grpc.RpcError) as refused:
            self.tasks.StartTask(task_service_pb2.StartTaskRequest(address=wrong, **request))
        self.assertEqual(refused.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        mismatch = detail(refused.exception, error_details_pb2.AddressMismatchDetail)
        self.assertIsNotNone(mismatch)
        self.assertEqual((mismatch.field, mismatch.expected, mismatch.got), ("address", task_address("double", {"n": 5}), wrong))
        bad = detail(refused.exception, error_details_pb2.BadRequestDetail)
        self.assertEqual([v.field for v in bad.field_violations], ["address"])
        # The canonical address of the same input is taken.
        started = self.tasks.StartTask(task_service_pb2.StartTaskRequest(address=task_address("double", {"n": 5.0}), **request))
        self.assertEqual(started.task.status, history_pb2.TaskStatus.TASK_STATUS_RUNNING)

    def test_a_stale_attempt_carries_stale_task_attempt_detail(self) -> None:
        lease = self.lease()
        fence = dict(run_id=lease.run.id, lease_token=lease.lease_token)
        task = self.tasks.StartTask(task_service_pb2.StartTaskRequest(name="t", address=task_address("t"), max_attempts=1, **fence)).task
        self.tasks.CompleteTask(task_service_pb2.CompleteTaskRequest(task_id=task.id, attempt=1, **fence))
        with self.assertRaises(grpc.RpcError) as refused:
            self.tasks.CompleteTask(task_service_pb2.CompleteTaskRequest(task_id=task.id, attempt=1, **fence))
        self.assertEqual(refused.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        stale = detail(refused.exception, error_details_pb2.StaleTaskAttemptDetail)
        self.assertIsNotNone(stale)
        self.assertEqual((stale.task_id, stale.found, stale.current_status), (task.id, True, history_pb2.TaskStatus.TASK_STATUS_COMPLETED))


if __name__ == "__main__":
    unittest.main()
