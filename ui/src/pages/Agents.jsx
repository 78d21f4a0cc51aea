import { useEffect, useState } from 'preact/hooks';
import { api, get, post, query } from '../api.js';
import { AgentForm } from './AgentForm.jsx';

/** Where hookgate delivers to the agent, by its protocol. */
const address = (a) => (a.protocol === 'a2a' ? a.a2a_url : a.acp_url);

/** The protocol as shown: ACP with its type, A2A with its version. */
const protocolOf = (a) => (a.protocol === 'a2a' ? `A2A ${a.a2a_version || ''}` : `ACP (${a.acp_type})`);

/** Every agent: protocol, address, whether its deliveries are paused;
 *  pause, resume, delete (asked first); register a new one. */
export function Agents() {
  const [agents, setAgents] = useState([]);
  const [error, setError] = useState('');
  const load = () => get('/agents?limit=1000').then(setAgents).catch((e) => setError(e.message));
  useEffect(() => { load(); }, []);
  const act = (promise) => promise.then(load).catch((e) => setError(e.message));
  const remove = (agent) => {
    if (confirm(`Delete agent ${agent.name} with its keys, routes and deliveries?`)) {
      act(api('DELETE', `/agents/${agent.id}`));
    }
  };
  return (
    <section>
      <h1>Agents</h1>
      {error && <p role="alert" class="error">{error}</p>}
      <div class="scroll">
        <table>
          <thead><tr><th scope="col">Name</th><th scope="col">Protocol</th><th scope="col">Address</th><th scope="col">Deliveries</th><th scope="col">Actions</th></tr></thead>
          <tbody>
            {agents.map((a) => (
              <tr data-agent={a.name}>
                <td><a href={`#/agents/${a.id}`}>{a.name}</a></td>
                <td>{protocolOf(a)}</td>
                <td class="mono">{address(a)}</td>
                <td>{a.deliveries_paused_at ? `paused since ${a.deliveries_paused_at}` : 'running'}</td>
                <td class="actions">
                  {a.deliveries_paused_at
                    ? <button onClick={() => act(post(`/agents/${a.id}/resume`))}>Resume</button>
                    : <button onClick={() => act(post(`/agents/${a.id}/pause`))}>Pause</button>}
                  <button onClick={() => remove(a)}>Delete</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {!agents.length && !error && <p class="muted">No agents yet.</p>}
      </div>
      <AgentForm onRegistered={load} />
    </section>
  );
}

/** One agent: its fields, keys (never their values) and routes. */
export function Agent({ id }) {
  const [agent, setAgent] = useState(null);
  const [keys, setKeys] = useState([]);
  const [routes, setRoutes] = useState([]);
  const [error, setError] = useState('');
  useEffect(() => {
    const selector = query({ agent_id: id });
    Promise.all([get(`/agents/${id}`), get(`/agent_api_keys${selector}&limit=1000`), get(`/agent_routes${selector}`)])
      .then(([a, k, r]) => { setAgent(a); setKeys(k); setRoutes(r); })
      .catch((e) => setError(e.message));
  }, [id]);
  const [cardError, setCardError] = useState('');
  const readCard = () => post(`/agents/${id}/refresh_card`)
    .then((a) => { setAgent(a); setCardError(''); })
    .catch((e) => setCardError(e.message));
  if (error) return <p role="alert" class="error">{error}</p>;
  if (!agent) return <p class="muted">Loading…</p>;
  return (
    <section>
      <p><a href="#/agents">← Agents</a></p>
      <h1>{agent.name}</h1>
      <dl class="fields">
        <dt>Id</dt><dd class="mono">{agent.id}</dd>
        <dt>Protocol</dt><dd>{protocolOf(agent)}</dd>
        <dt>Address</dt><dd class="mono">{address(agent)}</dd>
        {agent.protocol === 'a2a' && (
          <>
            <dt>Agent Card</dt><dd class="mono">{agent.agent_card_url}</dd>
            <dt>Card read</dt><dd>{agent.card_read_at} <button type="button" onClick={readCard}>Read the card again</button>
              {cardError && <span role="alert" class="error"> {cardError}</span>}</dd>
          </>
        )}
        <dt>Deliveries</dt><dd>{agent.deliveries_paused_at ? `paused since ${agent.deliveries_paused_at}` : 'running'}</dd>
        <dt>Identities</dt><dd class="mono">{(agent.identities || []).join(', ') || '–'}</dd>
      </dl>
      <p><a href={`#/keys/${agent.id}`}>Manage keys and routes</a> · <a href={`#/deliveries?agent_name=${encodeURIComponent(agent.name)}`}>Deliveries</a></p>
      <h2>Keys</h2>
      <table>
        <thead><tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">Created</th></tr></thead>
        <tbody>{keys.map((k) => <tr><td>{k.name}</td><td>{k.api_key_type}</td><td>{k.created_at}</td></tr>)}</tbody>
      </table>
      <h2>Routes</h2>
      <table>
        <thead><tr><th scope="col">Path</th><th scope="col">Mode</th><th scope="col">Task key</th></tr></thead>
        <tbody>{routes.map((r) => <tr><td class="mono">{r.path}</td><td>{r.mode}</td><td class="mono">{r.task_key || '–'}</td></tr>)}</tbody>
      </table>
      {!routes.length && <p class="muted">No routes: calls are forwarded as they come.</p>}
    </section>
  );
}
