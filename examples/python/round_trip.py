#!/usr/bin/python3
"""A Python client of Aiki, on the stubs `buf generate` writes to gen/python.

Starts a run of a workflow (executed by a worker in any language), sends it an event, waits on
the server until the run completes, and prints the run's output. Needs only Debian's
python3-grpcio and python3-protobuf:

    /usr/bin/python3 examples/python/round_trip.py --target 127.0.0.1:9850 --order-id order-1

Against a server with AIKI_AUTH=on, pass a key with client and read scopes: --api-key, or
AIKI_API_KEY; it travels as `authorization: Bearer <key>` metadata on every call.

Prints one JSON document on stdout: {"runId", "status", "output"}. Exit status: 0 when the run
completed, 1 when it ended otherwise or did not finish in time, 2 when a call failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

# The generated packages (aiki.v1.*_pb2) live in gen/python at the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "gen" / "python"))

import grpc  # noqa: E402
from google.protobuf import duration_pb2, json_format, struct_pb2  # noqa: E402

from aiki.v1 import event_service_pb2, event_service_pb2_grpc  # noqa: E402
from aiki.v1 import run_pb2, run_service_pb2, run_service_pb2_grpc  # noqa: E402

# The server holds one WaitForRunStatus call at most five minutes; we ask for less and call again.
WAIT_PER_CALL_SECONDS = 30


def to_value(data: Any) -> struct_pb2.Value:
    """Plain JSON data as a google.protobuf.Value (inputs, outputs and event data are Values)."""
    return json_format.ParseDict(data, struct_pb2.Value())


def from_value(value: struct_pb2.Value) -> Any:
    return json_format.MessageToDict(value)


def status_name(status: int) -> str:
    return run_pb2.RunStatus.Name(status).removeprefix("RUN_STATUS_").lower()


def round_trip(channel: grpc.Channel, args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    runs = run_service_pb2_grpc.RunServiceStub(channel)
    events = event_service_pb2_grpc.EventServiceStub(channel)
    # The key decides the namespace; without one the server (AIKI_AUTH=off) uses "default".
    metadata = [("authorization", f"Bearer {args.api_key}")] if args.api_key else None

    # A request id makes the start safe to repeat: a retry returns the first run.
    started = runs.StartRun(
        run_service_pb2.StartRunRequest(
            request_id=str(uuid.uuid4()),
            workflow_name=args.workflow,
            workflow_version_id=args.version,
            input=to_value({"orderId": args.order_id, "amount": args.amount}),
            reference_id=args.order_id,
        ),
        timeout=10,
        metadata=metadata,
    )
    run_id = started.run.id
    print(f"started run {run_id} ({status_name(started.run.status)})", file=sys.stderr)

    # Stored even if the run is not waiting yet; the reference id makes a resend a no-op.
    sent = events.SendEvent(
        event_service_pb2.SendEventRequest(
            targets=[event_service_pb2.EventTarget(run_id=run_id)],
            event_name=args.event,
            data=to_value({"approvedBy": args.approver}),
            reference_id=f"{args.order_id}-approval",
        ),
        timeout=10,
        metadata=metadata,
    )
    print(f"sent event {args.event} ({sent.deliveries[0].event.id})", file=sys.stderr)

    # Server-side long-poll: no client polling loop, one call per WAIT_PER_CALL_SECONDS at most.
    deadline = time.monotonic() + args.timeout
    reply = run_service_pb2.WaitForRunStatusResponse
    while True:
        left = max(0.0, deadline - time.monotonic())
        waited = runs.WaitForRunStatus(
            run_service_pb2.WaitForRunStatusRequest(
                run_id=run_id,
                status=run_pb2.RUN_STATUS_COMPLETED,
                timeout=duration_pb2.Duration(seconds=int(min(left, WAIT_PER_CALL_SECONDS)) or 1),
            ),
            timeout=WAIT_PER_CALL_SECONDS + 10,
            metadata=metadata,
        )
        if waited.outcome != reply.OUTCOME_TIMEOUT or time.monotonic() >= deadline:
            break

    run = waited.run
    result: dict[str, Any] = {"runId": run.id, "status": status_name(run.status)}
    if run.HasField("output"):
        result["output"] = from_value(run.output)
    if run.HasField("failure"):
        result["failure"] = json_format.MessageToDict(run.failure)
    return (0 if waited.outcome == reply.OUTCOME_REACHED else 1), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="127.0.0.1:9850", help="the server's host:port (cleartext HTTP/2)")
    parser.add_argument("--workflow", default="python-approval")
    parser.add_argument("--version", default="1.0.0")
    parser.add_argument("--order-id", default=f"order-{uuid.uuid4().hex[:8]}")
    parser.add_argument("--amount", type=int, default=42)
    parser.add_argument("--event", default="approval")
    parser.add_argument("--approver", default="python")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for the run to complete")
    parser.add_argument("--api-key", default=os.environ.get("AIKI_API_KEY"), help="API key (default: AIKI_API_KEY)")
    args = parser.parse_args()

    with grpc.insecure_channel(args.target) as channel:
        try:
            code, result = round_trip(channel, args)
        except grpc.RpcError as error:
            print(f"round_trip: {error.code().name}: {error.details()}", file=sys.stderr)
            return 2
    print(json.dumps(result, indent=2))
    return code


if __name__ == "__main__":
    sys.exit(main())
