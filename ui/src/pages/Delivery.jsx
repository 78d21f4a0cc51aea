import { useEffect, useState } from 'preact/hooks';
import { get, post } from '../api.js';

/** A JSON text pretty-printed, or the text as it is. */
function pretty(value) {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'string') return JSON.stringify(value, null, 2);
  try { return JSON.stringify(JSON.parse(value), null, 2); } catch { return value; }
}

/** One delivery: its fields, its attempts as a timeline, what it carries,
 *  and Retry / Cancel. */
export function Delivery({ id }) {
  const [delivery, setDelivery] = useState(null);
  const [payload, setPayload] = useState(null);
  const [error, setError] = useState('');
  const load = () =>
    Promise.all([get(`/deliveries/${id}`), get(`/deliveries/${id}/payload`)])
      .then(([d, p]) => { setDelivery(d); setPayload(p); setError(''); })
      .catch((e) => setError(e.message));
  useEffect(() => {
    load();
    const timer = setInterval(load, 2000);
    return () => clearInterval(timer);
  }, [id]);
  const act = (what) => post(`/deliveries/${id}/${what}`).then(load).catch((e) => setError(e.message));

  if (error && !delivery) return <p role="alert" class="error">{error}</p>;
  if (!delivery) return <p class="muted">Loading…</p>;
  return (
    <section>
      <p><a href="#/deliveries">← Deliveries</a></p>
      <h1>Delivery <span class="mono">{delivery.id}</span></h1>
      {error && <p role="alert" class="error">{error}</p>}
      <dl class="fields">
        <dt>Status</dt><dd class={`status ${delivery.status}`} data-field="status">{delivery.status}</dd>
        <dt>Mode</dt><dd>{delivery.mode}</dd>
        <dt>Task</dt><dd class="mono">{delivery.task_id ? <a href={`#/tasks/${delivery.task_id}`} title={delivery.task_id}>{delivery.task_name || delivery.task_id}</a> : '–'} {delivery.sequence_id ? `#${delivery.sequence_id}` : ''}</dd>
        <dt>Created</dt><dd>{delivery.created_at}</dd>
        <dt>Delivered</dt><dd>{delivery.delivered_at || '–'}</dd>
      </dl>
      <div class="actions">
        <button onClick={() => act('retry')} disabled={!['failed', 'cancelled'].includes(delivery.status)}>Retry</button>
        <button onClick={() => act('cancel')} disabled={delivery.status !== 'pending'}>Cancel</button>
      </div>
      <h2>Attempts</h2>
      <ol class="timeline">
        {delivery.attempt_log.map((a) => (
          <li class={`attempt ${a.outcome}`}>
            <strong>#{a.attempt} {a.outcome}</strong> {a.status_code ? `HTTP ${a.status_code}` : ''}{' '}
            <span class="muted">{a.started_at} · {Math.max(0, Date.parse(a.finished_at) - Date.parse(a.started_at))} ms</span>
            {a.error && <div class="error">{a.error}</div>}
            {a.response && <div class="mono muted">answer: {a.response}</div>}
          </li>
        ))}
      </ol>
      {!delivery.attempt_log.length && <p class="muted">Not attempted yet.</p>}
      <h2>Request</h2>
      {payload && (
        <>
          <p class="mono">{payload.method} {payload.path}</p>
          <table class="headers"><tbody>{payload.headers.map(([n, v]) => <tr><th scope="row">{n}</th><td class="mono">{v}</td></tr>)}</tbody></table>
          <pre aria-label="Body">{pretty(payload.content ?? payload.body ?? payload.body_base64)}</pre>
        </>
      )}
    </section>
  );
}
