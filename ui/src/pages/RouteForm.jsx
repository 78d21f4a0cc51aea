import { useEffect, useState } from 'preact/hooks';
import { post } from '../api.js';

const PREVIEW_DELAY_MS = 300;

/** What the task key becomes for the newest stored delivery, asked a
 *  moment after the reader stops typing. */
function usePreview(agent, taskKey, textTemplate) {
  const [preview, setPreview] = useState(null);
  useEffect(() => {
    if (!taskKey && !textTemplate) return setPreview(null);
    const timer = setTimeout(() => {
      post('/agent_routes/preview', { agent_id: agent.id, task_key: taskKey || undefined, text_template: textTemplate || undefined })
        .then((p) => setPreview({ ok: p }))
        .catch((e) => setPreview({ error: e.message }));
    }, PREVIEW_DELAY_MS);
    return () => clearTimeout(timer);
  }, [agent.id, taskKey, textTemplate]);
  return preview;
}

function Rendering({ label, value }) {
  if (!value) return null;
  return value.missing
    ? <p class="error">{label}: the delivery has no <code>{value.missing}</code>.</p>
    : <p>{label}: <code data-rendered>{value.rendered}</code>{value.task_id && <span class="muted"> (task {value.task_id})</span>}</p>;
}

/** Creates a route; for acp_event, shows the task key rendered live
 *  against the agent's newest stored delivery. */
export function RouteForm({ agent, onCreated }) {
  const [form, setForm] = useState({ path: '', mode: 'acp_event', task_key: '', content: 'data', text_template: '' });
  const [error, setError] = useState('');
  const set = (key) => (e) => setForm({ ...form, [key]: e.target.value });
  const acp = form.mode === 'acp_event';
  const text = acp && form.content === 'text';
  const preview = usePreview(agent, acp ? form.task_key : '', text ? form.text_template : '');
  const submit = (e) => {
    e.preventDefault();
    const body = { agent_id: agent.id, path: form.path, mode: form.mode };
    if (acp) Object.assign(body, { task_key: form.task_key, content: form.content, text_template: text ? form.text_template : undefined });
    post('/agent_routes', body)
      .then(() => { setForm({ ...form, path: '', task_key: '', text_template: '' }); setError(''); onCreated(); })
      .catch((err) => setError(err.message));
  };
  return (
    <form class="card" onSubmit={submit} aria-label="Create a route">
      <h3>Create a route</h3>
      <label>Path <input name="route-path" required value={form.path} onInput={set('path')} placeholder="github/*" /></label>
      <label>Mode
        <select name="mode" value={form.mode} onChange={set('mode')}>
          <option value="acp_event">acp_event (stored, one task per key)</option>
          <option value="forward_async">forward_async (stored, replayed)</option>
          <option value="forward">forward (synchronous)</option>
        </select>
      </label>
      {acp && (
        <>
          <label>Task key <input name="task_key" class="mono wide" required value={form.task_key} onInput={set('task_key')}
            placeholder="github:{body.repository.full_name}#{body.pull_request.number}" /></label>
          <label>Content
            <select name="content" value={form.content} onChange={set('content')}>
              <option value="data">data (path, event headers, body)</option>
              <option value="text">text (from a template)</option>
            </select>
          </label>
          {text && <label>Text template <input name="text_template" class="mono wide" required value={form.text_template} onInput={set('text_template')} /></label>}
          <div class="preview" aria-live="polite" data-preview>
            {preview && preview.error && <p class="muted">Preview: {preview.error}</p>}
            {preview && preview.ok && (
              <>
                <p class="muted">Rendered against delivery <a href={`#/deliveries/${preview.ok.delivery_id}`}>{preview.ok.delivery_id}</a>:</p>
                <Rendering label="Task key" value={preview.ok.task_key} />
                <Rendering label="Text" value={preview.ok.text_template} />
              </>
            )}
          </div>
        </>
      )}
      {error && <p role="alert" class="error">{error}</p>}
      <button type="submit">Create route</button>
    </form>
  );
}
