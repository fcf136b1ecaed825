import { useState } from 'preact/hooks';
import { api, type Session } from '../api.js';

/** An operator key opens a session cookie; the key itself is never kept in the browser. */
export function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await api<Session>('/auth/session', { method: 'POST', json: { key: form.get('key') } }));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <h1>datasync</h1>
      <form onSubmit={submit}>
        <label for="key">Operator API key</label>
        <input id="key" name="key" type="password" autocomplete="current-password" required />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
      </form>
      <p class="hint">
        The key <code>npm start</code> printed as <code>local-operator</code>, or one from{' '}
        <code>datasync keys create NAME --scope operator</code>. Ingest keys cannot sign in.
      </p>
    </main>
  );
}
