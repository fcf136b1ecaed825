import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, type Session, setCsrfToken, whenSignedOut } from './api.js';
import { setTimeZone, timeZone } from './format.js';
import { LiveProvider } from './live.js';
import { OperationsPage } from './pages/operations.js';
import { QuarantinePage } from './pages/quarantine.js';
import { RowsPage } from './pages/rows.js';
import { SalesPage } from './pages/sales.js';
import { SignIn } from './pages/sign-in.js';
import './styles.css';

const PAGES = {
  sales: { title: 'Sales', Page: SalesPage },
  rows: { title: 'Rows', Page: RowsPage },
  quarantine: { title: 'Quarantine', Page: QuarantinePage },
  operations: { title: 'Operations', Page: OperationsPage },
} as const;
type PageName = keyof typeof PAGES;

/** The page and its parameters live in the hash (#/sales?region=EU): links and reloads keep them. */
function useRoute(): [PageName, URLSearchParams] {
  const read = (): [PageName, URLSearchParams] => {
    const [path = '', search = ''] = location.hash.replace(/^#\/?/, '').split('?');
    return [(path in PAGES ? path : 'sales') as PageName, new URLSearchParams(search)];
  };
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const changed = () => setRoute(read());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [page, params] = useRoute();
  useEffect(() => {
    whenSignedOut(() => setSession(null));
    api<Session>('/auth/session')
      .then((s) => {
        setCsrfToken(s.csrfToken);
        setTimeZone(s.timeZone);
        setSession(s);
      })
      .catch((error: unknown) => {
        if (!(error instanceof ApiError) || error.status !== 401) console.warn(error);
        setSession(null);
      });
  }, []);
  if (session === undefined) return <p class="loading">Loading…</p>;
  if (session === null)
    return (
      <SignIn
        onSignedIn={(s) => {
          setCsrfToken(s.csrfToken);
          setTimeZone(s.timeZone);
          setSession(s);
        }}
      />
    );
  const { Page, title } = PAGES[page];
  const signOut = async () => {
    await api('/auth/session', { method: 'DELETE' }).catch(() => undefined);
    setSession(null);
  };
  return (
    <LiveProvider>
      <header class="top">
        <strong class="brand">datasync</strong>
        <nav aria-label="Pages">
          {Object.entries(PAGES).map(([name, p]) => (
            <a href={`#/${name}`} aria-current={name === page ? 'page' : undefined}>
              {p.title}
            </a>
          ))}
        </nav>
        <span class="zone" title="DASHBOARD_TZ: the business time zone of every day and time on these pages">
          {timeZone()}
        </span>
        <span class="who" title={session.grantedBy ? `operator through ${session.grantedBy}` : undefined}>
          {session.name}{' '}
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </span>
      </header>
      <main id="main" aria-label={title}>
        <Page params={params} />
      </main>
    </LiveProvider>
  );
}

render(<App />, document.getElementById('app')!);
