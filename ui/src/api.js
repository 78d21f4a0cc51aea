// The admin API, as the signed-in user: the token (admin token or account
// key) and the account id live in session storage and go out as headers,
// never in a URL.
const TOKEN = 'hookgate.token';
const ACCOUNT = 'hookgate.account';

export function credentials() {
  return { token: sessionStorage.getItem(TOKEN) || '', account: sessionStorage.getItem(ACCOUNT) || '' };
}

export function signIn(token, account) {
  sessionStorage.setItem(TOKEN, token);
  if (account) sessionStorage.setItem(ACCOUNT, account);
  else sessionStorage.removeItem(ACCOUNT);
}

export function signOut() {
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(ACCOUNT);
}

/** An API error: the status and hookgate's own message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function api(method, path, body) {
  const { token, account } = credentials();
  const headers = {};
  if (token) headers['x-api-key'] = token;
  if (account) headers['x-selected-account-id'] = account;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!res.ok) {
    const message = (data && (data.message || data.detail)) || `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, message);
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});

/** A query string of the set values. */
export function query(params) {
  const set = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '');
  return set.length ? '?' + new URLSearchParams(set).toString() : '';
}

/** `/readyz` whatever its status: its body says why (and what the spool holds). */
export async function readiness() {
  const res = await fetch('/readyz');
  return res.json();
}
