import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { timeZone } from './format.js';

export interface SeriesPoint {
  key: string; // YYYY-MM-DD: the bucket's first day, or an ISO time (the live ingest chart)
  value: number;
}

/**
 * Revenue over time: uPlot on a canvas (small and fast; a table below carries the same figures for
 * screen readers and exact decimals). Redrawn in place when the points change, resized with the page.
 */
export function TimeChart({
  points,
  label,
  height = 260,
  instants = false,
}: {
  points: SeriesPoint[];
  label: string;
  height?: number;
  /** Keys are instants (shown in the business time zone), not calendar days. */
  instants?: boolean;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const el = box.current!;
    const data: uPlot.AlignedData = [
      points.map((p) => Date.parse(p.key.length > 10 ? p.key : `${p.key}T00:00:00Z`) / 1000),
      points.map((p) => p.value),
    ];
    if (plot.current) {
      plot.current.setData(data);
      return;
    }
    plot.current = new uPlot(
      {
        width: el.clientWidth || 600,
        height,
        // A calendar day is drawn at its UTC midnight, so it is read back in UTC; an instant (the
        // live chart) in the business time zone.
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), instants ? timeZone() : 'Etc/UTC'),
        scales: { x: { time: true } },
        series: [
          {},
          {
            label,
            stroke: '#1f5fbf',
            fill: 'rgba(31,95,191,0.12)',
            width: 2,
            points: { show: points.length < 60 },
          },
        ],
        // The value axis as wide as its longest label (revenue runs to 20 digits and more).
        axes: [
          {},
          {
            size: (_u, values) => Math.max(70, 16 + 8 * Math.max(0, ...(values ?? []).map((v) => v.length))),
          },
        ],
        legend: { show: true },
      },
      data,
      el,
    );
  }, [points, label]);
  useEffect(() => {
    const resize = () => plot.current?.setSize({ width: box.current?.clientWidth ?? 600, height });
    addEventListener('resize', resize);
    return () => {
      removeEventListener('resize', resize);
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);
  return <div ref={box} class="chart" role="img" aria-label={`${label} over time`} />;
}
