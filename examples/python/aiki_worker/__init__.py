"""A reference Aiki worker in Python, written from the contracts in proto/aiki/v1 alone.

canonical.py: the canonical JSON, hash and replay addresses (Addresses, in history.proto).
worker.py: a worker that takes leases and replays handlers on their history, following the
replay protocol at the top of worker_lease_service.proto.
transport.py: PollLeases with unary writes, or one Session stream.
rpc_status.py: the typed details of a refused call.

worker.py needs the generated stubs (gen/python) importable as ``aiki.v1``; canonical.py needs
nothing but the standard library.
"""
