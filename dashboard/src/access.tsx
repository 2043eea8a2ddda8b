// What the user may do: WhoAmI at load decides. A server without authentication (or without
// AdminService) allows everything; a key without the client or admin scope is read-only, and the
// write actions are hidden. Any call answering UNAUTHENTICATED asks for a key. Until WhoAmI has
// answered, nothing is writable: a read-only key never sees actions flash by.
import { Code } from "@connectrpc/connect";
import { createContext, type FormEvent, type ReactNode, useContext, useEffect, useState } from "react";
import { ApiKeyScope } from "@aiki/gen/aiki/v1/admin_service_pb";
import { adminApi, isCode, onUnauthenticated, storeApiKey, storedApiKey } from "./api.js";

export interface Access {
  canWrite: boolean;
  namespace: string;
  authEnabled: boolean;
  /** "checking": WhoAmI has not answered yet; "key-needed": a call answered UNAUTHENTICATED. */
  state: "checking" | "key-needed" | "known";
}

const full: Access = { canWrite: true, namespace: "default", authEnabled: false, state: "known" };
const unknown: Access = { canWrite: false, namespace: "default", authEnabled: false, state: "checking" };
const AccessContext = createContext<Access>(full);

export function useAccess(): Access {
  return useContext(AccessContext);
}

export function AccessProvider({ children }: { children: ReactNode }) {
  const [access, setAccess] = useState<Access | undefined>();
  const [keyNeeded, setKeyNeeded] = useState<string | undefined>();
  // The user asked to enter another key (e.g. a read key's holder who also has a client key).
  const [changing, setChanging] = useState(false);

  useEffect(() => onUnauthenticated((message) => setKeyNeeded(message || "this server needs an API key")), []);
  useEffect(() => {
    let live = true;
    adminApi.whoAmI({}).then(
      (me) => {
        if (!live) return;
        const write = !me.authEnabled || me.scopes.some((s) => s === ApiKeyScope.ADMIN || s === ApiKeyScope.CLIENT);
        setAccess({ canWrite: write, namespace: me.namespace || "default", authEnabled: me.authEnabled, state: "known" });
        setKeyNeeded(undefined);
      },
      (error: unknown) => {
        if (!live) return;
        if (isCode(error, Code.Unauthenticated)) return; // the listener asks for a key
        // No AdminService (UNIMPLEMENTED) means no authentication: everything is allowed. Any
        // other failure shows on the pages' own calls; the actions stay, and the server decides.
        setAccess(full);
      },
    );
    return () => {
      live = false;
    };
  }, []);

  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const key = String(new FormData(e.currentTarget).get("key") ?? "").trim();
    storeApiKey(key);
    // Every page and stream calls again with the key, as after a fresh load.
    location.reload();
  };

  return (
    <AccessContext.Provider value={keyNeeded !== undefined ? { ...unknown, state: "key-needed" } : (access ?? unknown)}>
      {keyNeeded !== undefined || changing ? (
        <form className="key-prompt" onSubmit={submit} aria-label="API key">
          {keyNeeded !== undefined ? (
            <p role="alert">
              The server refused the call: {keyNeeded}. Enter an API key (<code>aiki</code> admins create them); it is kept in this browser only.
            </p>
          ) : (
            <p>Enter another API key; it replaces the one kept in this browser.</p>
          )}
          <label>
            {/* biome-ignore lint/a11y/noAutofocus: only when the user asked to change the key, so focus goes where they will type */}
            API key <input name="key" type="password" autoComplete="off" defaultValue={storedApiKey()} required autoFocus={changing} />
          </label>
          <button type="submit" className="primary">
            Use key
          </button>
          {changing && keyNeeded === undefined ? (
            <button type="button" onClick={() => setChanging(false)}>
              Keep the current key
            </button>
          ) : null}
          {storedApiKey() ? (
            <button
              type="button"
              onClick={() => {
                storeApiKey("");
                location.reload();
              }}
            >
              Forget stored key
            </button>
          ) : null}
        </form>
      ) : null}
      {access?.authEnabled ? (
        <p className="access-note">
          Namespace <strong>{access.namespace}</strong>
          {access.canWrite ? null : " · read-only key: actions are hidden"}
          {changing ? null : (
            <>
              {" · "}
              <button type="button" className="link" onClick={() => setChanging(true)}>
                Change key
              </button>
            </>
          )}
        </p>
      ) : null}
      {children}
    </AccessContext.Provider>
  );
}
