import { useEffect, useState } from 'preact/hooks';
import { api, type Session } from '../api.js';

/**
 * A directory account (when the api has LDAP_SERVER) or an operator key opens a session cookie;
 * neither the password nor the key is ever kept in the browser.
 */
export function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [directory, setDirectory] = useState(false);
  useEffect(() => {
    api<{ directory: boolean }>('/auth/methods')
      .then((m) => setDirectory(m.directory))
      .catch(() => setDirectory(false));
  }, []);
  const submit = (path: string, body: (form: FormData) => unknown) => async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await api<Session>(path, { method: 'POST', json: body(form) }));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <h1>datasync</h1>
      {directory && (
        <form
          aria-label="Directory account"
          onSubmit={submit('/auth/login', (f) => ({
            username: f.get('username'),
            password: f.get('password'),
          }))}
        >
          <label for="username">User name</label>
          <input id="username" name="username" autocomplete="username" required />
          <label for="password">Password</label>
          <input id="password" name="password" type="password" autocomplete="current-password" required />
          <button type="submit" disabled={busy}>
            Sign in
          </button>
        </form>
      )}
      <form aria-label="Operator key" onSubmit={submit('/auth/session', (f) => ({ key: f.get('key') }))}>
        <label for="key">Operator API key</label>
        <input id="key" name="key" type="password" autocomplete="off" required />
        <button type="submit" disabled={busy}>
          Sign in{directory ? ' with a key' : ''}
        </button>
      </form>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <p class="hint">
        The key <code>npm start</code> printed as <code>local-operator</code>, or one from{' '}
        <code>datasync keys create NAME --scope operator</code>. Ingest keys cannot sign in.
      </p>
    </main>
  );
}
