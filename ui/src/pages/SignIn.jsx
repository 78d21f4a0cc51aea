import { useState } from 'preact/hooks';
import { ApiError, get, signIn, signOut } from '../api.js';

/** Asks for the admin token (or an account key and its account id) once;
 *  it is kept in session storage for this tab only. */
export function SignIn({ onSignedIn }) {
  const [token, setToken] = useState('');
  const [account, setAccount] = useState('');
  const [error, setError] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    signIn(token.trim(), account.trim());
    try {
      await get('/agents?limit=1');
      onSignedIn();
    } catch (err) {
      signOut();
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  return (
    <main class="narrow">
      <h1>Sign in to hookgate</h1>
      <form onSubmit={submit}>
        <label for="token">Admin token or account key</label>
        <input id="token" type="password" autocomplete="off" value={token} onInput={(e) => setToken(e.target.value)} required />
        <label for="account">Account id (with an account key)</label>
        <input id="account" value={account} onInput={(e) => setAccount(e.target.value)} />
        {error && <p role="alert" class="error">{error}</p>}
        <button type="submit">Sign in</button>
      </form>
    </main>
  );
}
