import { useEffect, useState } from 'preact/hooks';
import { get, post, query } from '../api.js';

/** Tasks, newest first, optionally one agent's. */
export function Tasks() {
  const [agent, setAgent] = useState('');
  const [tasks, setTasks] = useState([]);
  const [error, setError] = useState('');
  useEffect(() => {
    get('/tasks' + query({ agent_name: agent, limit: 200 }))
      .then((found) => { setTasks(found); setError(''); })
      .catch((e) => setError(e.message));
  }, [agent]);
  return (
    <section>
      <h1>Tasks</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>Agent <input name="agent" value={agent} onChange={(e) => setAgent(e.target.value)} placeholder="name" /></label>
      </form>
      {error && <p role="alert" class="error">{error}</p>}
      <div class="scroll">
        <table>
          <thead><tr><th scope="col">Task key</th><th scope="col">Events</th><th scope="col">Created</th><th scope="col">Known to the agent</th></tr></thead>
          <tbody>
            {tasks.map((t) => (
              <tr data-task={t.id}>
                <td><a href={`#/tasks/${t.id}`} class="mono">{t.name}</a></td>
                <td class="num">{t.events}</td>
                <td>{t.created_at}</td>
                <td>{t.created_on_agent_at || 'not yet'}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {!tasks.length && !error && <p class="muted">No tasks yet: acp_event routes make them.</p>}
      </div>
    </section>
  );
}

/** What an event was about, in a few words: the provider's event header
 *  and the body's action, or a text event's text. */
function summary(content) {
  if (!content) return '';
  if (content.type === 'text') return content.content;
  const data = content.data || {};
  const headers = data.headers || {};
  const kind = headers['x-github-event'] || headers['x-gitlab-event'] || headers['linear-event'] || (data.body && data.body.type) || '';
  const action = data.body && typeof data.body === 'object' ? data.body.action || (data.body.event && data.body.event.type) || '' : '';
  return [kind, action].filter(Boolean).join(' · ');
}

/** One task's events in sequence order: how its conversation reached the agent. */
export function Task({ id }) {
  const [task, setTask] = useState(null);
  const [events, setEvents] = useState([]);
  const [error, setError] = useState('');
  useEffect(() => {
    let cancelled = false;
    (async () => {
      let after = 0;
      const all = [];
      // Pages of 500, at most 20 of them: 10,000 events is more than a reader reads.
      for (let page = 0; page < 20; page++) {
        const found = await get(`/tasks/${id}` + query({ after_sequence: after, limit: 500 }));
        if (cancelled) return;
        all.push(...found.event_log);
        setTask(found);
        setEvents([...all]);
        if (found.next_after_sequence == null) break;
        after = found.next_after_sequence;
      }
    })().catch((e) => setError(e.message));
    return () => { cancelled = true; };
  }, [id]);
  const release = () => post(`/tasks/${id}/release`).then(() => location.reload()).catch((e) => setError(e.message));
  if (error) return <p role="alert" class="error">{error}</p>;
  if (!task) return <p class="muted">Loading…</p>;
  return (
    <section>
      <p><a href="#/tasks">← Tasks</a></p>
      <h1 class="mono">{task.name}</h1>
      <dl class="fields">
        <dt>Task id</dt><dd class="mono">{task.id}</dd>
        <dt>Agent</dt><dd><a href={`#/agents/${task.agent_id}`} class="mono">{task.agent_id}</a></dd>
        <dt>Events</dt><dd>{task.events}</dd>
        <dt>Loop breaker</dt><dd>{task.held_since ? <>holding new events since {task.held_since} <button onClick={release}>Release</button></> : 'not holding'}</dd>
      </dl>
      <h2>Events in sequence order</h2>
      <ol class="timeline">
        {events.map((e) => (
          <li data-sequence={e.sequence_id}>
            <strong>#{e.sequence_id}</strong> <a href={`#/deliveries/${e.id}`} class={`status ${e.status}`}>{e.status}</a>{' '}
            <span>{summary(e.content)}</span> <span class="muted">{e.created_at}</span>
            <details><summary>Content</summary><pre>{JSON.stringify(e.content, null, 2)}</pre></details>
          </li>
        ))}
      </ol>
    </section>
  );
}
