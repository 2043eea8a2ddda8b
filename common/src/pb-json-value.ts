import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { NullValue, type Struct, type Value } from "@bufbuild/protobuf/wkt";

// Payloads (inputs, outputs, event data) travel as google.protobuf.Value. protobuf-es converts
// JSON to and from it by reflection over the schema, node by node, which was a tenth of a
// worker's CPU per workflow; these build and read the same plain message objects directly.
// Same results and the same errors as fromJson/toJson(ValueSchema), except that a "__proto__"
// key stays an ordinary key (an assignment would have set the object's prototype).

/** protobuf-es's default recursion limit for JSON (which counts the call itself, so 99 Values deep). */
const maxDepth = 100;

/** fromJson(ValueSchema, json), built directly. */
export function jsonToPbValue(json: JsonValue): Value {
  return toValue(json, 1);
}

function toValue(json: JsonValue, depth: number): Value {
  if (depth >= maxDepth) throw new Error(`cannot decode google.protobuf.Value from JSON: maximum recursion depth of ${maxDepth} reached`);
  switch (typeof json) {
    case "number":
      return { $typeName: "google.protobuf.Value", kind: { case: "numberValue", value: json } };
    case "string":
      return { $typeName: "google.protobuf.Value", kind: { case: "stringValue", value: json } };
    case "boolean":
      return { $typeName: "google.protobuf.Value", kind: { case: "boolValue", value: json } };
    case "object": {
      if (json === null) return { $typeName: "google.protobuf.Value", kind: { case: "nullValue", value: NullValue.NULL_VALUE } };
      if (Array.isArray(json)) {
        const values = json.map((item) => toValue(item, depth + 1));
        return { $typeName: "google.protobuf.Value", kind: { case: "listValue", value: { $typeName: "google.protobuf.ListValue", values } } };
      }
      const fields: Struct["fields"] = {};
      for (const key of Object.keys(json)) setOwn(fields, key, toValue((json as JsonObject)[key]!, depth + 1));
      return { $typeName: "google.protobuf.Value", kind: { case: "structValue", value: { $typeName: "google.protobuf.Struct", fields } } };
    }
    default:
      throw new Error(`cannot decode message google.protobuf.Value from JSON ${String(json)}`);
  }
}

/** toJson(ValueSchema, value), read directly. */
export function pbValueToJson(value: Value): JsonValue {
  const kind = value.kind;
  switch (kind.case) {
    case "nullValue":
      return null;
    case "numberValue":
      if (!Number.isFinite(kind.value)) throw new Error("google.protobuf.Value cannot be NaN or Infinity");
      return kind.value;
    case "boolValue":
    case "stringValue":
      return kind.value;
    case "structValue": {
      const object: JsonObject = {};
      const fields = kind.value.fields;
      for (const key of Object.keys(fields)) setOwn(object, key, pbValueToJson(fields[key]!));
      return object;
    }
    case "listValue":
      return kind.value.values.map(pbValueToJson);
    default:
      throw new Error("google.protobuf.Value must have a value");
  }
}

function setOwn<T>(object: Record<string, T>, key: string, value: T): void {
  if (key === "__proto__") Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  else object[key] = value;
}
