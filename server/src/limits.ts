/**
 * What one request or one caller may ask of the server. Each limit is configured by the
 * environment variable it is named after (config.ts) and named in the LimitExceededDetail a
 * refused request gets, so a client learns which one it passed and how to ask for less.
 */
export interface Limits {
  /** AIKI_MAX_MESSAGE_BYTES: one request message (or one message of a stream), as sent. */
  maxMessageBytes: number;
  /** AIKI_MAX_PAYLOAD_BYTES: one user payload (input, output, event data), as JSON text. */
  maxPayloadBytes: number;
  /** AIKI_MAX_JSON_DEPTH: nesting of arrays and objects in one payload. */
  maxJsonDepth: number;
  /** AIKI_MAX_NAME_LENGTH: names, versions, reference ids, request ids, shards, worker ids. */
  maxNameLength: number;
  /** AIKI_MAX_TEXT_LENGTH: free text (reasons, failure messages and types). */
  maxTextLength: number;
  /** AIKI_MAX_PAGE_SIZE: items in one page of a list. */
  maxPageSize: number;
  /** AIKI_MAX_WAITS_PER_CALLER: WaitForRunStatus calls one caller holds at once. */
  maxWaitsPerCaller: number;
  /** AIKI_MAX_STREAMS_PER_CALLER: StreamLeases and Session streams one caller holds open. */
  maxStreamsPerCaller: number;
  /** AIKI_MAX_STREAMS: StreamLeases and Session streams open on this server, all callers. */
  maxStreams: number;
  /** AIKI_MAX_SESSION_CREDITS: credits a session may hold (open.credits, and grants added up). */
  maxSessionCredits: number;
  /** AIKI_MAX_SESSION_UNREAD: a session's answers and leases not yet read before it stops reading calls. */
  maxSessionUnread: number;
  /** AIKI_MAX_HEARTBEAT_LEASES: leases named in one Heartbeat. */
  maxHeartbeatLeases: number;
  /** AIKI_MAX_RUN_TAGS: tags on one run (or schedule). */
  maxRunTags: number;
  /** AIKI_MAX_TAG_KEY_LENGTH: one tag key. */
  maxTagKeyLength: number;
  /** AIKI_MAX_TAG_VALUE_LENGTH: one tag value. */
  maxTagValueLength: number;
  /** AIKI_MAX_RUNNING_BATCH_OPERATIONS: batch operations running at once in one namespace. */
  maxRunningBatchOperations: number;
  /** AIKI_MAX_BATCH_RUN_IDS: run ids in one StartBatchOperation's explicit list. */
  maxBatchRunIds: number;
  /** AIKI_BATCH_RATE: runs per second a batch operation works at when its request names no rate. */
  batchRate: number;
  /** AIKI_BATCH_MAX_RATE: the highest rate a batch operation may ask for. */
  batchMaxRate: number;
}

export const defaultLimits: Limits = {
  maxMessageBytes: 4 * 1024 * 1024,
  maxPayloadBytes: 1024 * 1024,
  // Binary protobuf decoding stops at 100 nested messages (about 49 JSON levels): 32 is the same on every protocol.
  maxJsonDepth: 32,
  maxNameLength: 256,
  maxTextLength: 32 * 1024,
  maxPageSize: 1000,
  maxWaitsPerCaller: 1000,
  maxStreamsPerCaller: 100,
  maxStreams: 10_000,
  maxSessionCredits: 1000,
  maxSessionUnread: 256,
  maxHeartbeatLeases: 1000,
  maxRunTags: 32,
  maxTagKeyLength: 64,
  maxTagValueLength: 256,
  maxRunningBatchOperations: 10,
  maxBatchRunIds: 10_000,
  batchRate: 1000,
  batchMaxRate: 10_000,
};

/** The environment variable that sets each limit: the name a refusal carries. */
export const limitVariables: Record<keyof Limits, string> = {
  maxMessageBytes: "AIKI_MAX_MESSAGE_BYTES",
  maxPayloadBytes: "AIKI_MAX_PAYLOAD_BYTES",
  maxJsonDepth: "AIKI_MAX_JSON_DEPTH",
  maxNameLength: "AIKI_MAX_NAME_LENGTH",
  maxTextLength: "AIKI_MAX_TEXT_LENGTH",
  maxPageSize: "AIKI_MAX_PAGE_SIZE",
  maxWaitsPerCaller: "AIKI_MAX_WAITS_PER_CALLER",
  maxStreamsPerCaller: "AIKI_MAX_STREAMS_PER_CALLER",
  maxStreams: "AIKI_MAX_STREAMS",
  maxSessionCredits: "AIKI_MAX_SESSION_CREDITS",
  maxSessionUnread: "AIKI_MAX_SESSION_UNREAD",
  maxHeartbeatLeases: "AIKI_MAX_HEARTBEAT_LEASES",
  maxRunTags: "AIKI_MAX_RUN_TAGS",
  maxTagKeyLength: "AIKI_MAX_TAG_KEY_LENGTH",
  maxTagValueLength: "AIKI_MAX_TAG_VALUE_LENGTH",
  maxRunningBatchOperations: "AIKI_MAX_RUNNING_BATCH_OPERATIONS",
  maxBatchRunIds: "AIKI_MAX_BATCH_RUN_IDS",
  batchRate: "AIKI_BATCH_RATE",
  batchMaxRate: "AIKI_BATCH_MAX_RATE",
};
