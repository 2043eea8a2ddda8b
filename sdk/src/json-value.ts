import { fromJson, type JsonValue as PbJsonValue, toJson } from "@bufbuild/protobuf";
import { type Value, ValueSchema } from "@bufbuild/protobuf/wkt";
import { type JsonValue, toJsonValue } from "./canonical-json.js";

/** User data (input, output, event data) as a google.protobuf.Value; undefined stays unset. */
export function toValue(data: unknown): Value | undefined {
  const json = toJsonValue(data);
  return json === undefined ? undefined : fromJson(ValueSchema, json as PbJsonValue);
}

/** A google.protobuf.Value as plain JSON; unset is undefined. */
export function fromValue(value: Value | undefined): JsonValue | undefined {
  return value === undefined ? undefined : (toJson(ValueSchema, value) as JsonValue);
}
