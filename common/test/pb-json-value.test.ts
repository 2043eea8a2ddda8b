// jsonToPbValue / pbValueToJson (pure logic) against protobuf-es's own fromJson / toJson of
// google.protobuf.Value: the same messages (compared by their binary encoding), the same JSON back,
// the same errors.
import { create, fromJson, type JsonValue, toBinary, toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { jsonToPbValue, pbValueToJson } from "../src/pb-json-value.js";

const samples: JsonValue[] = [
  null,
  true,
  false,
  0,
  -0,
  1.5,
  -1e300,
  Number.MAX_SAFE_INTEGER,
  "",
  "héllo 🌍 \u0000 \n",
  [],
  {},
  [1, "two", null, [3, [4]], { five: 5 }],
  { a: 1, b: { c: [true, false, null], d: "" }, "": { "weird key": -2 } },
  { order: { step: 3, v: 44, ok: true }, items: Array.from({ length: 50 }, (_, i) => ({ i, name: `item ${i}` })) },
];

const nested = (depth: number): JsonValue => (depth === 0 ? 1 : [nested(depth - 1)]);

describe("jsonToPbValue", () => {
  it("builds the message fromJson builds", () => {
    for (const json of samples) {
      const fast = jsonToPbValue(json);
      expect(toBinary(ValueSchema, fast)).toEqual(toBinary(ValueSchema, fromJson(ValueSchema, json)));
      expect(fast).toEqual(fromJson(ValueSchema, json));
    }
  });

  it("keeps a __proto__ key as an ordinary key", () => {
    const json = JSON.parse('{"__proto__": {"x": 1}, "y": 2}') as JsonValue;
    const value = jsonToPbValue(json);
    expect(value.kind.case).toBe("structValue");
    expect(Object.keys(value.kind.case === "structValue" ? value.kind.value.fields : {})).toEqual(["__proto__", "y"]);
    const back = pbValueToJson(value);
    expect(JSON.stringify(back)).toBe('{"__proto__":{"x":1},"y":2}');
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
  });

  it("refuses nesting deeper than protobuf-es's recursion limit, as fromJson does", () => {
    // nested(98) is 99 Values deep, the most either takes.
    expect(() => fromJson(ValueSchema, nested(98))).not.toThrow();
    expect(() => jsonToPbValue(nested(98))).not.toThrow();
    expect(() => fromJson(ValueSchema, nested(99))).toThrow(/maximum recursion depth of 100/);
    expect(() => jsonToPbValue(nested(99))).toThrow(/maximum recursion depth of 100/);
  });
});

describe("pbValueToJson", () => {
  it("reads back what toJson reads", () => {
    for (const json of samples) {
      const value = fromJson(ValueSchema, json);
      expect(pbValueToJson(value)).toEqual(toJson(ValueSchema, value));
    }
  });

  it("refuses NaN, Infinity and a value with no kind, as toJson does", () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const value = create(ValueSchema, { kind: { case: "numberValue", value: bad } });
      expect(() => toJson(ValueSchema, value)).toThrow("google.protobuf.Value cannot be NaN or Infinity");
      expect(() => pbValueToJson(value)).toThrow("google.protobuf.Value cannot be NaN or Infinity");
    }
    const nested = create(ValueSchema, { kind: { case: "listValue", value: { values: [create(ValueSchema)] } } });
    expect(() => toJson(ValueSchema, nested)).toThrow("google.protobuf.Value must have a value");
    expect(() => pbValueToJson(nested)).toThrow("google.protobuf.Value must have a value");
  });
});
