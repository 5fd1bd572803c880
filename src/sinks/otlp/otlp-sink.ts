import { readFileSync } from "node:fs";
import type { RequestRecord } from "../../record.ts";
import type { RecordSink } from "../sink.ts";
import type { CallTelemetry } from "./call-telemetry.ts";
import type { TelemetryExport } from "./create-telemetry.ts";

/**
 * Spans and metrics of the records, at the backend's pace: a segment's
 * records are emitted only as fast as the export backlog empties
 * (`whenRoom`), so a burst waits on disk in the record queue, not in memory.
 * The segments are acknowledged only once their spans are exported: if the
 * backend gave up on any (down past the retries, or refusing them), `take`
 * fails and the same segments are offered again later, so a span is sent at
 * least once (a retried segment's spans that did go out are sent again).
 * Records without telemetry (telemetry was off when they were made) are skipped.
 */
export function createOtlpSink(exporter: TelemetryExport): RecordSink {
  // Segments whose calls are in the metrics already (this process's histograms): offered again, they add spans only.
  const metered = new Set<string>();
  return {
    name: "otlp",
    async take(paths) {
      const droppedBefore = exporter.dropped();
      for (const path of paths) {
        let text: string;
        try {
          text = readFileSync(path, "utf8");
        } catch {
          continue; // unreadable: nothing to send
        }
        const metrics = !metered.has(path);
        let sinceCheck = 0;
        for (const line of text.split("\n")) {
          // `"telemetry":` unescaped occurs only as the key itself; `"otel":` is how an earlier version wrote it.
          if (!line.includes('"telemetry":') && !line.includes('"otel":')) continue;
          let row: RequestRecord & { telemetry?: CallTelemetry; otel?: CallTelemetry };
          try {
            row = JSON.parse(line);
          } catch {
            continue;
          }
          if (++sinceCheck === 256) {
            sinceCheck = 0;
            await exporter.whenRoom();
          }
          const telemetry = row.telemetry ?? row.otel;
          if (telemetry) exporter.emit(row, telemetry, { metrics });
        }
        metered.add(path);
        await exporter.whenRoom();
      }
      await exporter.settled();
      const dropped = exporter.dropped() - droppedBefore;
      if (dropped > 0) throw new Error(`${dropped} span(s) of ${paths.length} segment(s) were not exported; they will be offered again`);
      for (const path of paths) metered.delete(path);
    },
  };
}
