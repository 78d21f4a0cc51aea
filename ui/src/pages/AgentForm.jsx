import { useState } from 'preact/hooks';
import { post } from '../api.js';
import { SecretOnce } from '../components/SecretOnce.jsx';

/** Registers an agent: an ACP agent by its server's URL, an A2A agent by
 *  its Agent Card (hookgate reads it and says what is wrong with it), with
 *  the bearer token the card asks for. The agent's internal key is shown
 *  once. */
export function AgentForm({ onRegistered }) {
  const blank = { name: '', protocol: 'acp', acp_url: '', agent_card_url: '', outbound_token: '' };
  const [form, setForm] = useState(blank);
  const [error, setError] = useState('');
  const [shown, setShown] = useState(null);
  const set = (key) => (e) => setForm({ ...form, [key]: e.target.value });
  const a2a = form.protocol === 'a2a';
  const submit = (e) => {
    e.preventDefault();
    const body = a2a
      ? { name: form.name, protocol: 'a2a', agent_card_url: form.agent_card_url, outbound_token: form.outbound_token || undefined }
      : { name: form.name, protocol: 'acp', acp_url: form.acp_url };
    post('/agents/register', body)
      .then((made) => {
        setForm(blank);
        setError('');
        setShown({ title: `Agent ${made.name} registered: its internal key`, secret: made.agent_api_key });
        onRegistered();
      })
      .catch((err) => setError(err.message));
  };
  return (
    <>
      {shown && <SecretOnce {...shown} onClose={() => setShown(null)} />}
      <form class="card" onSubmit={submit} aria-label="Register an agent">
        <h3>Register an agent</h3>
        <label>Name <input name="agent-name" required value={form.name} onInput={set('name')} placeholder="pr-agent" /></label>
        <label>Protocol
          <select name="protocol" value={form.protocol} onChange={set('protocol')}>
            <option value="acp">ACP (Agentex)</option>
            <option value="a2a">A2A (from its Agent Card)</option>
          </select>
        </label>
        {a2a ? (
          <>
            <label>Agent Card URL <input name="agent_card_url" class="mono wide" required value={form.agent_card_url}
              onInput={set('agent_card_url')} placeholder="http://127.0.0.1:9999/.well-known/agent-card.json" /></label>
            <label>Bearer token (if its card asks for one) <input name="outbound_token" type="password" autocomplete="off"
              value={form.outbound_token} onInput={set('outbound_token')} /></label>
          </>
        ) : (
          <label>ACP URL <input name="acp_url" class="mono wide" required value={form.acp_url} onInput={set('acp_url')}
            placeholder="http://127.0.0.1:8000" /></label>
        )}
        {error && <p role="alert" class="error">{error}</p>}
        <button type="submit">Register</button>
      </form>
    </>
  );
}
