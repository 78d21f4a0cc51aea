import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, signOut } from './api.js';
import { SignIn } from './pages/SignIn.jsx';
import { Overview } from './pages/Overview.jsx';
import { Deliveries } from './pages/Deliveries.jsx';
import { Delivery } from './pages/Delivery.jsx';
import { Task, Tasks } from './pages/Tasks.jsx';
import { Agent, Agents } from './pages/Agents.jsx';
import { Keys } from './pages/Keys.jsx';
import './style.css';

const PAGES = [
  ['overview', 'Overview'],
  ['deliveries', 'Deliveries'],
  ['tasks', 'Tasks'],
  ['agents', 'Agents'],
  ['keys', 'Keys & routes'],
];

/** The page the location's hash names (#/deliveries, #/deliveries/<id>,
 *  #/tasks/<id>, #/agents/<id>, #/keys/<agent id>, …) and its query
 *  (#/deliveries?status=failed). */
function useRoute() {
  const read = () => {
    const [path, search] = (location.hash.replace(/^#/, '') || '/overview').split('?');
    return { parts: path.split('/').filter(Boolean), params: new URLSearchParams(search || '') };
  };
  const [route, setRoute] = useState(read());
  useEffect(() => {
    const changed = () => setRoute(read());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

function Page({ page, id, params }) {
  switch (page) {
    case 'deliveries': return id ? <Delivery id={id} /> : <Deliveries initial={Object.fromEntries(params)} />;
    case 'tasks': return id ? <Task id={id} /> : <Tasks />;
    case 'agents': return id ? <Agent id={id} /> : <Agents />;
    case 'keys': return <Keys agentId={id} />;
    default: return <Overview />;
  }
}

function App() {
  // null: not known yet; false: must sign in; true: the API answers us.
  const [signedIn, setSignedIn] = useState(null);
  const { parts, params } = useRoute();
  const check = () =>
    get('/agents?limit=1')
      .then(() => setSignedIn(true))
      .catch((e) => setSignedIn(e instanceof ApiError && (e.status === 401 || e.status === 403) ? false : true));
  useEffect(() => { check(); }, []);

  if (signedIn === null) return <p class="muted">Loading…</p>;
  if (!signedIn) return <SignIn onSignedIn={check} />;
  const [page = 'overview', id] = parts;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main').focus(); }}>Skip to content</a>
      <header>
        <strong>hookgate</strong>
        <nav aria-label="Pages">
          {PAGES.map(([name, label]) => (
            <a href={`#/${name}`} aria-current={page === name ? 'page' : undefined}>{label}</a>
          ))}
        </nav>
        <button class="link" onClick={() => { signOut(); check(); }}>Sign out</button>
      </header>
      <main id="main" tabIndex={-1}>
        <Page key={`${page}/${id || ''}`} page={page} id={id} params={params} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app'));
