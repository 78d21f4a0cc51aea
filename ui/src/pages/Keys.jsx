import { useEffect, useState } from 'preact/hooks';
import { api, get, post, query } from '../api.js';
import { SecretOnce } from '../components/SecretOnce.jsx';
import { RouteForm } from './RouteForm.jsx';

/** The providers whose key the webhook-trigger route makes, as hookgate's
 *  registry lists them (`GET /providers`): those that are a trigger. */
function useTriggerProviders() {
  const [providers, setProviders] = useState([]);
  useEffect(() => {
    get('/providers').then((all) => setProviders(all.filter((p) => p.secret !== 'not_a_trigger'))).catch(() => setProviders([]));
  }, []);
  return providers;
}

const NAME_HINT = { github: 'owner/repository', slack: 'Slack app id', shopify: 'shop.myshopify.com' };

/** An agent's keys and routes: create (the secret shown once), rotate
 *  with a grace period, delete; routes with a live task-key preview. */
export function Keys({ agentId }) {
  const [agents, setAgents] = useState([]);
  const [error, setError] = useState('');
  useEffect(() => { get('/agents?limit=1000').then(setAgents).catch((e) => setError(e.message)); }, []);
  const agent = agents.find((a) => a.id === agentId) || (!agentId && agents[0]);
  return (
    <section>
      <h1>Keys and routes</h1>
      {error && <p role="alert" class="error">{error}</p>}
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>Agent
          <select name="agent" value={agent ? agent.id : ''} onChange={(e) => { location.hash = `#/keys/${e.target.value}`; }}>
            {agents.map((a) => <option value={a.id}>{a.name}</option>)}
          </select>
        </label>
      </form>
      {agent ? <AgentKeys agent={agent} /> : !error && <p class="muted">No agents yet.</p>}
    </section>
  );
}

function AgentKeys({ agent }) {
  const [keys, setKeys] = useState([]);
  const [routes, setRoutes] = useState([]);
  const [shown, setShown] = useState(null);
  const [error, setError] = useState('');
  const load = () => {
    const selector = query({ agent_id: agent.id });
    Promise.all([get(`/agent_api_keys${selector}&limit=1000`), get(`/agent_routes${selector}`)])
      .then(([k, r]) => { setKeys(k); setRoutes(r); setError(''); })
      .catch((e) => setError(e.message));
  };
  useEffect(load, [agent.id]);
  const act = (promise) => promise.then(load).catch((e) => setError(e.message));
  const rotate = (key) => {
    const answer = prompt(`Rotate ${key.name}: for how many seconds may the current value still verify?`, '86400');
    if (answer === null) return;
    act(post(`/agent_api_keys/${key.id}/rotate`, { expires_in_secs: Number(answer) })
      .then((r) => setShown({ title: `New value of ${key.name}`, secret: r.api_key })));
  };
  const remove = (key) => {
    if (confirm(`Delete key ${key.name} (${key.api_key_type})? Every value of it stops at once.`)) act(api('DELETE', `/agent_api_keys/${key.id}`));
  };
  const removeRoute = (route) => {
    if (confirm(`Delete the route on ${route.path}?`)) act(api('DELETE', `/agent_routes/${route.id}`));
  };
  return (
    <>
      {error && <p role="alert" class="error">{error}</p>}
      {shown && <SecretOnce {...shown} onClose={() => setShown(null)} />}
      <h2>Keys</h2>
      <div class="scroll">
        <table>
          <thead><tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">Created</th><th scope="col">Actions</th></tr></thead>
          <tbody>
            {keys.map((k) => (
              <tr data-key={k.name}>
                <td>{k.name}</td><td>{k.api_key_type}</td><td>{k.created_at}</td>
                <td class="actions">
                  {k.api_key_type !== 'internal' && <button onClick={() => rotate(k)}>Rotate</button>}
                  <button onClick={() => remove(k)}>Delete</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <KeyForm agent={agent} onCreated={(s) => { setShown(s); load(); }} />
      <h2>Routes</h2>
      <div class="scroll">
        <table>
          <thead><tr><th scope="col">Path</th><th scope="col">Mode</th><th scope="col">Task key</th><th scope="col">Actions</th></tr></thead>
          <tbody>
            {routes.map((r) => (
              <tr data-route={r.path}>
                <td class="mono">{r.path}</td><td>{r.mode}</td><td class="mono">{r.task_key || '–'}</td>
                <td class="actions"><button onClick={() => removeRoute(r)}>Delete</button></td>
              </tr>
            ))}
          </tbody>
        </table>
        {!routes.length && <p class="muted">No routes: calls are forwarded as they come.</p>}
      </div>
      <RouteForm agent={agent} onCreated={load} />
    </>
  );
}

/** Creates a provider's signing key (or an API key for callers) and hands
 *  the secret and the webhook URL to show once. */
function KeyForm({ agent, onCreated }) {
  const [form, setForm] = useState({ source: 'github', name: '', path: 'github', secret: '' });
  const [error, setError] = useState('');
  const providers = useTriggerProviders();
  const chosen = providers.find((p) => p.kind === form.source);
  const set = (key) => (e) => setForm({ ...form, [key]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    setError('');
    try {
      if (form.source === 'external') {
        const made = await post('/agent_api_keys', { agent_id: agent.id, name: form.name, api_key_type: 'external', api_key: form.secret || undefined });
        const url = `${location.origin}/agents/forward/name/${agent.name}/${form.path.replace(/^\//, '')}`;
        onCreated({ title: `Key ${made.name} created`, secret: made.api_key, webhookUrl: url });
      } else {
        const made = await post('/agent_api_keys/webhook-trigger', {
          agent_name: agent.name, source: form.source, name: form.name, forward_path: form.path,
          secret: form.secret || undefined, base_url: location.origin,
        });
        onCreated({ title: `${form.source} key ${made.name} created`, secret: made.secret, webhookUrl: made.webhook_url });
      }
      setForm({ ...form, name: '', secret: '' });
    } catch (err) {
      setError(err.message);
    }
  };
  return (
    <form class="card" onSubmit={submit} aria-label="Create a key">
      <h3>Create a key</h3>
      <label>Provider
        <select name="source" value={form.source} onChange={set('source')}>
          {providers.map((p) => <option value={p.kind}>{p.kind}{p.conversation ? '' : ' (no conversations)'}</option>)}
          <option value="external">external (callers' x-agent-api-key)</option>
        </select>
      </label>
      <label>Name <input name="name" required value={form.name} onInput={set('name')} placeholder={NAME_HINT[form.source] || 'a name'} /></label>
      <label>Forward path <input name="path" value={form.path} onInput={set('path')} /></label>
      {chosen?.secret_found_in && <p class="muted">Secret: {chosen.secret_found_in}</p>}
      <label>Secret (empty: generated, where the provider allows) <input name="secret" type="password" autocomplete="off" value={form.secret} onInput={set('secret')} /></label>
      {error && <p role="alert" class="error">{error}</p>}
      <button type="submit">Create key</button>
    </form>
  );
}
