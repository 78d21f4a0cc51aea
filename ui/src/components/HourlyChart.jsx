/** A small bar chart of one agent's hours: delivered in green, failed in
 *  red stacked on top, accepted as a grey outline behind them. */
export function HourlyChart({ hours, label }) {
  const width = 4 * hours.length;
  const height = 28;
  const top = Math.max(1, ...hours.map((h) => Math.max(h.accepted, h.delivered + h.failed)));
  const scale = (n) => (n / top) * height;
  const summary = hours.reduce((s, h) => s + h.accepted, 0);
  return (
    <svg class="chart" role="img" width={width} height={height} viewBox={`0 0 ${width} ${height}`}>
      <title>{`${label}: ${summary} accepted`}</title>
      {hours.map((h, i) => (
        <g>
          <rect x={i * 4} y={height - scale(h.accepted)} width="3" height={scale(h.accepted)} fill="#dde1e8" />
          <rect x={i * 4} y={height - scale(h.delivered)} width="3" height={scale(h.delivered)} fill="#12a150" />
          <rect x={i * 4} y={height - scale(h.delivered) - scale(h.failed)} width="3" height={scale(h.failed)} fill="#d92d20" />
        </g>
      ))}
    </svg>
  );
}
