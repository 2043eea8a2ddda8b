"""A reference Aiki worker in Python, written from the contracts in proto/aiki/v1 alone.

So far: the canonical JSON, hash and replay addresses (canonical.py).
"""
