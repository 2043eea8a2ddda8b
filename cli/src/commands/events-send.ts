import { fromJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { SendEventResponseSchema } from "@aiki/gen/aiki/v1/event_service_pb";
import { type Command, jsonOption, stringOption } from "../command.js";
import { printJson, println } from "../output.js";
import { forRun } from "../rpc-errors.js";

export const eventsSend: Command = {
  words: ["events", "send"],
  summary: "Send an event to a run (stored even when the run is not waiting for it yet)",
  args: ["RUN_ID", "EVENT_NAME"],
  options: { data: { type: "string" }, "reference-id": { type: "string" } },
  optionHelp: [
    ["--data JSON", "the event's data, as JSON"],
    ["--reference-id R", "dedup key: a second send with R to this run stores nothing"],
  ],
  async run(ctx) {
    const [runId, eventName] = ctx.args as [string, string];
    const data = jsonOption(ctx, "data");
    const res = await forRun(
      runId,
      ctx.clients().events.sendEvent({
        targets: [{ target: { case: "runId", value: runId } }],
        eventName,
        data: data === undefined ? undefined : fromJson(ValueSchema, data as never),
        referenceId: stringOption(ctx, "reference-id") ?? "",
      }),
    );
    if (ctx.json) return printJson(ctx.out, SendEventResponseSchema, res);
    for (const d of res.deliveries) {
      const event = d.event!;
      println(
        ctx.out.stdout,
        d.duplicate
          ? `event ${eventName} with reference id "${event.referenceId}" was already sent to run ${event.runId} (event ${event.id}); nothing new stored`
          : `event ${eventName} sent to run ${event.runId} (event ${event.id})`,
      );
    }
  },
};
