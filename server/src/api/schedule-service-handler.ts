import type { ConnectRouter } from "@connectrpc/connect";
import { ScheduleService } from "@aiki/gen/aiki/v1/schedule_service_pb";
import { activateSchedule } from "../engine/activate-schedule.js";
import { deleteSchedule, pauseSchedule, resumeSchedule } from "../engine/control-schedule.js";
import type { EngineDeps } from "../engine/engine-deps.js";
import { getSchedule, querySchedules } from "../engine/query-schedules.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { namespaceOf } from "./call-namespace.js";
import { parseActivateSchedule, scheduleToPb } from "./schedule-mapping.js";
import { Violations } from "./validation.js";

/** ScheduleService: proto <-> engine mapping and request validation only. */
export function registerScheduleService(router: ConnectRouter, deps: EngineDeps): void {
  const scheduleId = (id: string) => {
    const v = new Violations(deps.limits);
    const canonical = v.uuid("schedule_id", id);
    v.throwIfAny();
    return canonical;
  };

  router.service(ScheduleService, {
    async activateSchedule(req, ctx) {
      const ns = namespaceOf(ctx);
      const v = new Violations(deps.limits);
      const cmd = parseActivateSchedule(v, req, ns);
      v.throwIfAny();
      const { schedule, existing } = await activateSchedule(deps, cmd);
      return { schedule: scheduleToPb(schedule), existing };
    },

    async getSchedule(req, ctx) {
      const ns = namespaceOf(ctx);
      return { schedule: scheduleToPb(await getSchedule(deps, ns, scheduleId(req.scheduleId))) };
    },

    async listSchedules(req, ctx) {
      const ns = namespaceOf(ctx);
      const v = new Violations(deps.limits);
      v.identifier("workflow_name", req.workflowName, false);
      const size = v.pageSize("page_size", req.pageSize);
      const filterKey = `workflow_name=${req.workflowName}`;
      const afterId = decodePageToken(v, "page_token", req.pageToken, filterKey);
      v.throwIfAny();
      const page = await querySchedules(deps, ns, { workflowName: req.workflowName || undefined }, { size, afterId });
      return { schedules: page.items.map(scheduleToPb), nextPageToken: encodePageToken(page.after, filterKey) };
    },

    async pauseSchedule(req, ctx) {
      const ns = namespaceOf(ctx);
      return { schedule: scheduleToPb(await pauseSchedule(deps, ns, scheduleId(req.scheduleId))) };
    },

    async resumeSchedule(req, ctx) {
      const ns = namespaceOf(ctx);
      return { schedule: scheduleToPb(await resumeSchedule(deps, ns, scheduleId(req.scheduleId))) };
    },

    async deleteSchedule(req, ctx) {
      const ns = namespaceOf(ctx);
      await deleteSchedule(deps, ns, scheduleId(req.scheduleId));
      return {};
    },
  });
}
