#!/usr/bin/python3
"""Runs the Python reference worker (aiki_worker) with a few example workflows until stdin closes.

    /usr/bin/python3 examples/python/python_worker.py --target 127.0.0.1:9850 --prefix py [--transport poll]

Workflows (names prefixed with --prefix, version "1.0.0"):
  <prefix>-order    tasks (one retried), a sleep, an event, a child; see order() below
  <prefix>-receipt  the order's child: one task
  <prefix>-handoff  a task, a sleep, a task built from the first one's output; the TypeScript
                    worker in examples/python/handoff-workflow.ts has the same code, so either
                    language can finish a run the other began

Prints one JSON line per thing that happened ({"event": "task_attempt", "task": ..., ...}) on
stdout, for the tests in examples/python/python-worker.test.ts. With AIKI_AUTH=on, pass a key
with the worker scope: --api-key or AIKI_API_KEY.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "gen" / "python"))

import grpc  # noqa: E402

from aiki_worker.worker import RunContext, Task, Worker, Workflow  # noqa: E402

# How many times reserve-stock ran per order in this process: its first attempt fails.
_reserve_attempts: dict[str, int] = {}


def _reserve(input: dict[str, Any]) -> dict[str, Any]:
    order_id = input["orderId"]
    _reserve_attempts[order_id] = _reserve_attempts.get(order_id, 0) + 1
    if _reserve_attempts[order_id] == 1:
        raise RuntimeError("stock service busy")
    return {"reserved": True}


def workflows(prefix: str) -> list[Workflow]:
    charge = Task("charge", lambda i: {"chargeId": f"ch-{i['orderId']}", "amount": i["amount"]})
    # Its input is built from charge's output: the amount comes back from the server as a double
    # (42.0), and must still address the same record on every replay.
    fee = Task("charge-fee", lambda i: {"fee": i["amount"] / 10})
    reserve = Task("reserve-stock", _reserve, max_attempts=3, retry_delay_seconds=0.05)
    render = Task("render-receipt", lambda i: f"receipt for {i['chargeId']}")
    notify = Task("notify", lambda i: f"charged {i['amount']}")

    def order(run: RunContext, input: dict[str, Any]) -> dict[str, Any]:
        charged = run.task(charge, {"orderId": input["orderId"], "amount": input["amount"]})
        fee_paid = run.task(fee, {"amount": charged["amount"]})
        reserved = run.task(reserve, {"orderId": input["orderId"]})
        slept = run.sleep("cool-off", 3600)
        approval = run.wait_event("approval")
        child = run.start_child(f"{prefix}-receipt", "1.0.0", {"chargeId": charged["chargeId"]})
        receipt = run.wait_child(child)
        return {
            "chargeId": charged["chargeId"],
            "fee": fee_paid["fee"],
            "reserved": reserved["reserved"],
            "sleepCancelled": slept["cancelled"],
            "approvedBy": approval["data"]["by"],
            "receipt": receipt["output"],
        }

    def receipt(run: RunContext, input: dict[str, Any]) -> str:
        return run.task(render, input)

    def handoff(run: RunContext, input: dict[str, Any]) -> dict[str, Any]:
        charged = run.task(charge, {"orderId": input["orderId"], "amount": input["amount"]})
        run.sleep("cool-off", 3600)
        told = run.task(notify, {"chargeId": charged["chargeId"], "amount": charged["amount"]})
        return {"chargeId": charged["chargeId"], "told": told}

    return [
        Workflow(f"{prefix}-order", "1.0.0", order),
        Workflow(f"{prefix}-receipt", "1.0.0", receipt),
        Workflow(f"{prefix}-handoff", "1.0.0", handoff),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", default="127.0.0.1:9850", help="the server's host:port (plaintext gRPC)")
    parser.add_argument("--prefix", default="py", help="prefix of the workflow names")
    parser.add_argument("--worker-id", default=f"python-{os.getpid()}")
    parser.add_argument("--api-key", default=os.environ.get("AIKI_API_KEY", ""))
    parser.add_argument("--transport", choices=["poll", "session"], default="session", help="PollLeases and unary writes, or one Session stream")
    args = parser.parse_args()

    def emit(event: dict[str, Any]) -> None:
        print(json.dumps(event), flush=True)

    metadata = (("authorization", f"Bearer {args.api_key}"),) if args.api_key else ()
    stop = threading.Event()

    def watch_stdin() -> None:
        sys.stdin.read()  # returns at end of input: the caller wants the worker to stop
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    with grpc.insecure_channel(args.target) as channel:
        worker = Worker(
            channel, args.worker_id, workflows(args.prefix), metadata=metadata, transport=args.transport, lease_ttl_seconds=10, on_event=emit
        )
        emit({"event": "ready", "workerId": args.worker_id})
        worker.run(stop, wait_seconds=1.0)
    emit({"event": "stopped"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
