import type { Command } from "../command.js";
import { batchesCancel, batchesGet, batchesList } from "./batches.js";
import { eventsSend } from "./events-send.js";
import { keysCreate, keysList, keysRevoke } from "./keys.js";
import { namespacesCreate, namespacesList } from "./namespaces.js";
import { runsAwake, runsCancel, runsPause, runsResume } from "./runs-control.js";
import { runsGet } from "./runs-get.js";
import { runsHistory } from "./runs-history.js";
import { runsList } from "./runs-list.js";
import { runsKeep, runsPurge } from "./runs-retention.js";
import { runsRerun } from "./runs-rerun.js";
import { runsStart } from "./runs-start.js";
import { runsTasks } from "./runs-tasks.js";
import { runsWait } from "./runs-wait.js";
import { server } from "./server.js";
import { workersList } from "./workers-list.js";

/** Every command, in the order `aiki --help` lists them. */
export const commands: readonly Command[] = [
  server,
  runsList,
  runsGet,
  runsHistory,
  runsTasks,
  runsStart,
  runsCancel,
  runsPause,
  runsResume,
  runsAwake,
  runsRerun,
  runsWait,
  runsKeep,
  runsPurge,
  batchesList,
  batchesGet,
  batchesCancel,
  eventsSend,
  workersList,
  namespacesCreate,
  namespacesList,
  keysCreate,
  keysList,
  keysRevoke,
];
