"""The canonical JSON of aiki_worker against the shared test vectors of the contracts."""

from __future__ import annotations

import json
import math
import unittest
from pathlib import Path

from aiki_worker.canonical import (
    ABSENT,
    NoCanonicalForm,
    canonical_hash,
    canonical_json,
    child_run_key,
    format_number,
    task_address,
)

VECTORS = Path(__file__).resolve().parents[2] / "proto" / "aiki" / "v1" / "testdata" / "canonical-json-vectors.json"


class CanonicalJsonVectors(unittest.TestCase):
    def setUp(self) -> None:
        # json.loads keeps 5.0 a float and 5 an int: both must come out as 5.
        self.doc = json.loads(VECTORS.read_text(encoding="utf-8"))

    def test_every_vector(self) -> None:
        name = self.doc["task_name"]
        self.assertGreaterEqual(len(self.doc["vectors"]), 30)
        for v in self.doc["vectors"]:
            with self.subTest(v["name"]):
                value = v["input"] if "input" in v else ABSENT
                self.assertEqual(canonical_json(value), v["canonical"])
                self.assertEqual(canonical_hash(value), v["sha256"])
                self.assertEqual(task_address(name, value), v["address"])
                self.assertEqual(child_run_key("", value), v["child_key"])

    def test_invalid_inputs_are_refused(self) -> None:
        self.assertGreater(len(self.doc["invalid"]), 0)
        for v in self.doc["invalid"]:
            with self.subTest(v["name"]):
                with self.assertRaises(NoCanonicalForm):
                    canonical_json(v["input"])

    def test_non_finite_numbers_are_refused(self) -> None:
        for x in (math.nan, math.inf, -math.inf):
            with self.assertRaises(NoCanonicalForm):
                canonical_json({"n": x})

    def test_absent_is_not_null(self) -> None:
        self.assertEqual(canonical_json(), "undefined")
        self.assertEqual(canonical_json(None), "null")
        self.assertNotEqual(task_address("t"), task_address("t", None))

    def test_a_reference_id_is_the_child_key(self) -> None:
        self.assertEqual(child_run_key("order-1", {"x": 1}), "order-1")

    def test_numbers_round_trip_as_doubles(self) -> None:
        # Every double written must read back as itself, in both notations' ranges.
        for x in (1e-7, 1.5e-7, 123.456, 1e21, 1e20 + 1, 2.0**53, 5e-324, 1.7976931348623157e308, 0.1, 1 / 3):
            with self.subTest(x):
                self.assertEqual(float(format_number(x)), x)
        self.assertEqual(format_number(-0.0), "0")
        self.assertEqual(format_number(10**30), "1e+30")


if __name__ == "__main__":
    unittest.main()
