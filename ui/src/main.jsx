import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, signOut } from './api.js';
import { SignIn } from './pages/SignIn.jsx';
import { Deliveries } from './pages/Deliveries.jsx';
import { Delivery } from './pages/Delivery.jsx';
import { Agent, Agents } from './pages/Agents.jsx';
import './style.css';

/** The page the location's hash names: #/deliveries, #/deliveries/<id>,
 *  #/agents, #/agents/<id>. */
function useRoute() {
  const read = () => (location.hash.replace(/^#/, '') || '/deliveries').split('/').filter(Boolean);
  const [route, setRoute] = useState(read());
  useEffect(() => {
    const changed = () => setRoute(read());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

function App() {
  // null: not known yet; false: must sign in; true: the API answers us.
  const [signedIn, setSignedIn] = useState(null);
  const route = useRoute();
  const check = () =>
    get('/agents?limit=1')
      .then(() => setSignedIn(true))
      .catch((e) => setSignedIn(e instanceof ApiError && (e.status === 401 || e.status === 403) ? false : true));
  useEffect(() => { check(); }, []);

  if (signedIn === null) return <p class="muted">Loading…</p>;
  if (!signedIn) return <SignIn onSignedIn={check} />;
  const [page, id] = route;
  return (
    <>
      <header>
        <strong>hookgate</strong>
        <nav aria-label="Pages">
          <a href="#/deliveries" aria-current={page === 'deliveries' ? 'page' : undefined}>Deliveries</a>
          <a href="#/agents" aria-current={page === 'agents' ? 'page' : undefined}>Agents</a>
        </nav>
        <button class="link" onClick={() => { signOut(); check(); }}>Sign out</button>
      </header>
      <main>
        {page === 'agents' ? (id ? <Agent id={id} /> : <Agents />)
          : page === 'deliveries' && id ? <Delivery id={id} /> : <Deliveries />}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app'));
