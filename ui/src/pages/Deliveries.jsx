import { useEffect, useState } from 'preact/hooks';
import { get, post, query } from '../api.js';

const STATUSES = ['', 'pending', 'delivered', 'failed', 'cancelled', 'ignored', 'held'];
const REFRESH_MS = 2000;

/** A datetime-local value (the reader's local time) as RFC 3339 UTC. */
function sinceTime(local) {
  if (!local) return '';
  const t = new Date(local);
  return isNaN(t) ? '' : t.toISOString();
}

/** The deliveries list: filters, live refresh, select many and retry them. */
export function Deliveries({ initial = {} }) {
  const [filters, setFilters] = useState({ agent_name: '', status: '', task_id: '', since: '', ...initial });
  const [rows, setRows] = useState([]);
  const [error, setError] = useState('');
  const [selected, setSelected] = useState(new Set());
  const [notice, setNotice] = useState('');

  const load = () =>
    get('/deliveries' + query({ ...filters, since: sinceTime(filters.since), limit: 100 }))
      .then((found) => { setRows(found); setError(''); })
      .catch((e) => setError(e.message));
  useEffect(() => {
    load();
    const timer = setInterval(load, REFRESH_MS); // new rows appear without a reload
    return () => clearInterval(timer);
  }, [filters.agent_name, filters.status, filters.task_id, filters.since]);

  const set = (key) => (e) => setFilters({ ...filters, [key]: e.target.value });
  const toggle = (id) => {
    const next = new Set(selected);
    next.has(id) ? next.delete(id) : next.add(id);
    setSelected(next);
  };
  const retrySelected = async () => {
    const ids = rows.filter((r) => selected.has(r.id) && (r.status === 'failed' || r.status === 'cancelled')).map((r) => r.id);
    if (!ids.length) return setNotice('None of the selected deliveries is failed or cancelled.');
    if (!confirm(`Retry ${ids.length} deliveries?`)) return;
    const results = await Promise.allSettled(ids.map((id) => post(`/deliveries/${id}/retry`)));
    const done = results.filter((r) => r.status === 'fulfilled').length;
    setNotice(`${done} of ${ids.length} deliveries back to pending.`);
    setSelected(new Set());
    load();
  };

  return (
    <section>
      <h1>Deliveries</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>Agent <input name="agent" value={filters.agent_name} onInput={set('agent_name')} placeholder="name" /></label>
        <label>Status
          <select name="status" value={filters.status} onChange={set('status')}>
            {STATUSES.map((s) => <option value={s}>{s || 'any'}</option>)}
          </select>
        </label>
        <label>Task <input name="task" value={filters.task_id} onInput={set('task_id')} placeholder="task id" /></label>
        <label>Since <input name="since" type="datetime-local" value={filters.since} onChange={set('since')} /></label>
        <button type="button" onClick={retrySelected} disabled={!selected.size}>Retry selected ({selected.size})</button>
      </form>
      {notice && <p role="status">{notice}</p>}
      {error && <p role="alert" class="error">{error}</p>}
      <div class="scroll">
        <table>
          <thead>
            <tr><th scope="col"><span class="visually-hidden">Select</span></th><th scope="col">Status</th><th scope="col">Created</th><th scope="col">Task</th><th scope="col">Seq</th><th scope="col">Attempts</th><th scope="col">Last error</th></tr>
          </thead>
          <tbody>
            {rows.map((d) => (
              <tr data-delivery={d.id}>
                <td><input type="checkbox" aria-label={`Select ${d.id}`} checked={selected.has(d.id)} onChange={() => toggle(d.id)} /></td>
                <td><a href={`#/deliveries/${d.id}`} class={`status ${d.status}`}>{d.status}</a></td>
                <td>{d.created_at}</td>
                <td class="mono">{d.task_id ? <a href={`#/tasks/${d.task_id}`} title={d.task_id}>{d.task_name || d.task_id}</a> : '–'}</td>
                <td>{d.sequence_id ?? '–'}</td>
                <td>{d.attempts}</td>
                <td>{d.last_error || ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {!rows.length && !error && <p class="muted">No deliveries yet.</p>}
      </div>
    </section>
  );
}
