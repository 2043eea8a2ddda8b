import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { EventService, SendEventResponse_DeliverySchema } from "@aiki/gen/aiki/v1/event_service_pb";
import { create } from "@bufbuild/protobuf";
import type { EngineDeps } from "../engine/engine-deps.js";
import { getRun } from "../engine/query-runs.js";
import { type EventTarget, sendEvent } from "../engine/send-event.js";
import { listEvents } from "../store/event-repository.js";
import { eventToPb } from "./history-mapping.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { namespaceOf } from "./call-namespace.js";
import { traceRunOfCall } from "./rpc-tracing.js";
import { Violations } from "./validation.js";

/** EventService: proto <-> engine mapping and request validation only. */
export function registerEventService(router: ConnectRouter, deps: EngineDeps): void {
  router.service(EventService, eventServiceImpl(deps));
}

/** The EventService methods; RunService.ClientSession answers its SendEvent calls with these. */
export function eventServiceImpl(deps: EngineDeps): ServiceImpl<typeof EventService> {
  return {
    async sendEvent(req, ctx) {
      const ns = namespaceOf(ctx);
      const v = new Violations(deps.limits);
      if (req.targets.length === 0) v.add("targets", "must name at least one run");
      if (req.targets.length > 1000) v.add("targets", "must name at most 1000 runs");
      const targets: EventTarget[] = [];
      req.targets.forEach((t, i) => {
        const f = `targets[${i}]`;
        if (t.target.case === "runId") {
          targets.push({ runId: v.uuid(`${f}.run_id`, t.target.value) });
        } else if (t.target.case === "reference") {
          const r = t.target.value;
          v.identifier(`${f}.reference.workflow_name`, r.workflowName, true);
          v.identifier(`${f}.reference.workflow_version_id`, r.workflowVersionId, true);
          v.identifier(`${f}.reference.reference_id`, r.referenceId, true);
          targets.push({ reference: { workflowName: r.workflowName, workflowVersionId: r.workflowVersionId, referenceId: r.referenceId } });
        } else v.add(`${f}.target`, "must be run_id or reference");
      });
      v.identifier("event_name", req.eventName, true);
      v.identifier("reference_id", req.referenceId, false);
      const data = v.payload("data", req.data);
      v.throwIfAny();
      const deliveries = await sendEvent(deps, { namespace: ns, targets, eventName: req.eventName, data, referenceId: req.referenceId || undefined });
      if (deliveries.length === 1) traceRunOfCall(ctx, deliveries[0]!.event.run_id);
      return { deliveries: deliveries.map((d) => create(SendEventResponse_DeliverySchema, { event: eventToPb(d.event), duplicate: d.duplicate })) };
    },

    async listEvents(req, ctx) {
      const ns = namespaceOf(ctx);
      const v = new Violations(deps.limits);
      const runId = v.uuid("run_id", req.runId);
      v.identifier("event_name", req.eventName, false);
      const size = v.pageSize("page_size", req.pageSize);
      const filterKey = `${runId}:${req.eventName}`;
      const afterId = decodePageToken(v, "page_token", req.pageToken, filterKey);
      v.throwIfAny();
      await getRun(deps, ns, runId);
      const rows = await listEvents(deps.db, ns, runId, { limit: size + 1, afterId, name: req.eventName || undefined });
      const items = rows.slice(0, size);
      const after = rows.length > size ? items[items.length - 1]?.id : undefined;
      return { events: items.map(eventToPb), nextPageToken: encodePageToken(after, filterKey) };
    },
  };
}
