import { create, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { anyPack, AnySchema } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";

/**
 * A ConnectError as session data (a worker's or a client's session answering one call): code,
 * message and its typed details packed as Any, so the client rebuilds the error the unary RPC
 * would have thrown.
 */
export function callError(error: ConnectError): { code: number; message: string; details: MessageInitShape<typeof AnySchema>[] } {
  return {
    code: error.code,
    message: error.rawMessage,
    details: error.details.map((d) =>
      "desc" in d
        ? anyPack(d.desc as DescMessage, create(d.desc as DescMessage, d.value as MessageInitShape<DescMessage>))
        : create(AnySchema, { typeUrl: `type.googleapis.com/${d.type}`, value: d.value }),
    ),
  };
}
