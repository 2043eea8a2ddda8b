import { jsonToPbValue, pbValueToJson } from "@aiki/common/pb-json-value";
import type { Value } from "@bufbuild/protobuf/wkt";
import { type JsonValue, toJsonValue } from "./canonical-json.js";

/** User data (input, output, event data) as a google.protobuf.Value; undefined stays unset. */
export function toValue(data: unknown): Value | undefined {
  const json = toJsonValue(data);
  return json === undefined ? undefined : jsonToPbValue(json);
}

/** A google.protobuf.Value as plain JSON; unset is undefined. */
export function fromValue(value: Value | undefined): JsonValue | undefined {
  return value === undefined ? undefined : (pbValueToJson(value) as JsonValue);
}
