import { useEffect, useState } from 'preact/hooks';
import { get, readiness } from '../api.js';
import { HourlyChart } from '../components/HourlyChart.jsx';

const REFRESH_MS = 5000;

/** Seconds as the largest unit that reads well: 42 s, 7 min, 3 h. */
export function age(secs) {
  if (secs < 90) return `${Math.round(secs)} s`;
  if (secs < 5400) return `${Math.round(secs / 60)} min`;
  return `${Math.round(secs / 3600)} h`;
}

const counts = (c) => `${c.accepted} / ${c.delivered} / ${c.failed}`;

/** Bytes as MB with one decimal. */
const mb = (bytes) => `${(bytes / 1048576).toFixed(1)} MB`;

/** Accepted calls waiting on local disk while the database is away, or
 *  being moved into it: shown until the spool is empty. */
export function SpoolCallout({ ready }) {
  const spool = ready && ready.spool;
  if (!spool || (ready.status === 'ready' && !spool.events)) return null;
  return (
    <div class="callout" role="status" data-spool>
      <h2>Spooling</h2>
      <p>{ready.detail}.</p>
      <p>{spool.events} accepted events wait in the spool ({mb(spool.bytes)} of {mb(spool.max_bytes)}); they are delivered, in order, once the database takes them.</p>
    </div>
  );
}

/** Per agent: accepted / delivered / failed over the last hour and day,
 *  queue depth, oldest pending age; agents whose deliveries fail first. */
export function Overview() {
  const [stats, setStats] = useState(null);
  const [error, setError] = useState('');
  const [ready, setReady] = useState(null);
  useEffect(() => {
    const load = () => {
      readiness().then(setReady).catch(() => setReady(null));
      get('/deliveries/stats').then((s) => { setStats(s); setError(''); }).catch((e) => setError(e.message));
    };
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => clearInterval(timer);
  }, []);
  if (!stats) {
    return (
      <section>
        <SpoolCallout ready={ready} />
        {error ? <p role="alert" class="error">{error}</p> : <p class="muted">Loading…</p>}
      </section>
    );
  }
  const failing = stats.agents.filter((a) => a.failing);
  return (
    <section>
      <h1>Overview</h1>
      <SpoolCallout ready={ready} />
      {error && <p role="alert" class="error">{error}</p>}
      {failing.length > 0 && (
        <div class="callout" role="status">
          <h2>Failing deliveries</h2>
          <ul>
            {failing.map((a) => (
              <li data-failing={a.agent_name}>
                <a href={`#/agents/${a.agent_id}`}>{a.agent_name}</a>: {a.last_hour.failed} failed in the last hour, {a.retrying} being retried.{' '}
                <a href={`#/deliveries?agent_name=${encodeURIComponent(a.agent_name)}&status=failed`}>See failed deliveries</a>
              </li>
            ))}
          </ul>
        </div>
      )}
      <div class="scroll">
        <table>
          <caption class="muted">Accepted / delivered / failed. Updated {stats.generated_at}.</caption>
          <thead><tr><th scope="col">Agent</th><th scope="col">Last hour</th><th scope="col">Last day</th><th scope="col">Pending</th><th scope="col">Oldest pending</th><th scope="col">State</th><th scope="col">Last day, per hour</th></tr></thead>
          <tbody>
            {stats.agents.map((a) => (
              <tr data-agent={a.agent_name}>
                <td><a href={`#/agents/${a.agent_id}`}>{a.agent_name}</a></td>
                <td class="num">{counts(a.last_hour)}</td>
                <td class="num">{counts(a.last_day)}</td>
                <td class="num">{a.pending}</td>
                <td>{a.pending ? age(a.oldest_pending_secs) : '–'}</td>
                <td>{a.deliveries_paused ? 'paused' : a.failing ? <span class="status failed">failing</span> : <span class="status delivered">ok</span>}</td>
                <td><HourlyChart hours={a.hourly} label={`${a.agent_name}: deliveries per hour over the last day`} /></td>
              </tr>
            ))}
          </tbody>
        </table>
        {!stats.agents.length && <p class="muted">No agents yet.</p>}
      </div>
    </section>
  );
}
