// The console's shell: hash routes (so any static host serves it), the signed-in identity, and
// the pages. It holds no rule: every page shows what the functions answer.
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { Workflow } from '../../shared/directives-schema.ts';
import { Board } from './board.tsx';
import { CreateDirective } from './create.tsx';
import { DirectivePage } from './directive.tsx';
import { OperationsPage } from './operations.tsx';
import { claimsOf, clientFor, saveSession, savedSession, type ConsoleConfig, type Session } from './session.ts';
import { SignIn } from './signin.tsx';
import { ErrorNote } from './ui.tsx';

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

export function App({ config }: { config: ConsoleConfig }) {
  const [session, setSession] = useState<Session | null>(savedSession());
  const hash = useHash();
  const api = useMemo(() => (session ? clientFor(session) : null), [session]);
  const [workflow, setWorkflow] = useState<Workflow | null>(null);
  const [error, setError] = useState<unknown>(null);

  const loadWorkflow = async () => {
    if (!api) return;
    setError(null);
    try {
      setWorkflow(await api.workflow());
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => { setWorkflow(null); void loadWorkflow(); }, [api]);

  const signIn = (s: Session) => { saveSession(s); setSession(s); location.hash = '#/'; };
  const signOut = () => { saveSession(null); setSession(null); location.hash = '#/signin'; };

  const route = hash.replace(/^#/, '');
  let page;
  if (!session || !api || route === '/signin') page = <SignIn config={config} onSignIn={signIn} />;
  else if (error && !workflow) page = <ErrorNote error={error} onRetry={() => void loadWorkflow()} />;
  else if (!workflow) page = <p aria-busy="true">Loading…</p>;
  else if (route === '/ops') page = <OperationsPage api={api} />;
  else if (route === '/new') page = <CreateDirective api={api} workflow={workflow} />;
  else if (route.startsWith('/d/')) page = <DirectivePage api={api} sd={decodeURIComponent(route.slice(3))} />;
  else page = <Board api={api} workflow={workflow} />;

  const teams = workflow?.me.teams ?? [];
  const role = teams.length > 0 ? teams.map((t) => `${t.role} of ${t.team}`).join(', ') : session ? String(claimsOf(session.token).role ?? '') : '';
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <a class="brand" href="#/">stagegate</a>
        <nav aria-label="Main">
          <a href="#/" aria-current={route === '/' || route === '' ? 'page' : undefined}>Board</a>
          <a href="#/ops" aria-current={route === '/ops' ? 'page' : undefined}>Operations</a>
        </nav>
        <span class="who">
          {session ? (<><span data-testid="who">{session.label}</span> <span class="muted" data-testid="role">{role}</span> <button type="button" onClick={signOut}>Sign out</button></>) : <a href="#/signin">Sign in</a>}
        </span>
      </header>
      <main id="main" tabIndex={-1}>{page}</main>
    </>
  );
}
