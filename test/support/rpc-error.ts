import { ConnectError } from "@connectrpc/connect";

/** The RPC error a call fails with; fails the test if the call succeeds. */
export async function rpcError(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}
