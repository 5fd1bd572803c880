import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

/** Colours that keep 3:1 contrast against both the light and the dark background. */
const PALETTE = ["#2f6fdb", "#d9480f", "#2b8a3e", "#ae3ec9", "#c2255c", "#0b7285", "#e67700", "#5c7cfa", "#868e96"];

export interface Series {
  label: string;
  values: (number | null)[];
}

/**
 * A time-series chart (uPlot: canvas, ~50 KB, made for many points). `times`
 * are epoch seconds; one line per series. The table of the same numbers sits
 * next to it on the page, for screen readers and for copying.
 */
export function TimeChart({ title, times, series, format }: { title: string; times: number[]; series: Series[]; format: (value: number) => string }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = host.current;
    if (!element) return;
    const styles = getComputedStyle(document.documentElement);
    const axisColor = styles.getPropertyValue("--muted").trim() || "#666";
    const gridColor = styles.getPropertyValue("--grid").trim() || "#ddd";
    const axis = { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor } };
    const plot = new uPlot(
      {
        width: Math.max(320, element.clientWidth),
        height: 260,
        scales: { x: { time: true } },
        // Buckets are UTC (as the records and SQL are): so is the axis.
        tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"),
        axes: [axis, { ...axis, size: 70, values: (_u, ticks) => ticks.map((t) => format(t)) }],
        series: [
          {},
          ...series.map((s, i) => ({
            label: s.label,
            stroke: PALETTE[i % PALETTE.length] ?? "#888",
            width: 2,
            points: { show: times.length < 60 },
            value: (_u: uPlot, v: number | null) => (v === null ? "—" : format(v)),
          })),
        ],
        legend: { live: true },
        cursor: { focus: { prox: 16 } },
      },
      [times, ...series.map((s) => s.values)] as uPlot.AlignedData,
      element,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(320, element.clientWidth), height: 260 }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [times, series, format]);
  return <div class="chart" ref={host} role="img" aria-label={title} />;
}
