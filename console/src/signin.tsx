// Sign-in: locally, one of the demo identities the stack offers (tokens minted with its own local
// secret, listed in /config.json only when the stack uses that secret); anywhere, paste a JWT.
import { useState } from 'preact/hooks';
import { claimsOf, type ConsoleConfig, type Session } from './session.ts';

export function SignIn({ config, onSignIn }: { config: ConsoleConfig; onSignIn: (s: Session) => void }) {
  const [apiUrl, setApiUrl] = useState(config.apiUrl ?? '');
  const [anonKey, setAnonKey] = useState(config.anonKey ?? '');
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState('');

  const paste = (e: Event) => {
    e.preventDefault();
    const t = token.trim();
    const claims = claimsOf(t);
    if (!apiUrl.trim()) return setProblem('Give the project URL (the functions are under <URL>/functions/v1).');
    if (!claims.role) return setProblem('That does not look like a JWT (no role claim).');
    onSignIn({ apiUrl: apiUrl.trim().replace(/\/+$/, ''), anonKey: anonKey.trim() || undefined, token: t, label: String(claims.email ?? claims.sub ?? claims.role) });
  };

  return (
    <section class="signin" aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in</h1>
      {config.demoUsers && config.demoUsers.length > 0 && config.apiUrl && (
        <section class="panel" aria-labelledby="demo-title">
          <h2 id="demo-title">Demo identities of this local stack</h2>
          <p class="muted small">Signed with the stack's local JWT secret: valid here only.</p>
          <div class="row wrap">
            {config.demoUsers.map((u) => (
              <button key={u.label} type="button" data-user={u.label}
                onClick={() => onSignIn({ apiUrl: config.apiUrl!, anonKey: config.anonKey, token: u.token, label: u.label })}>
                {u.label} <span class="muted">({u.role})</span>
              </button>
            ))}
          </div>
        </section>
      )}
      <form class="panel stack" onSubmit={paste}>
        <h2>Any token the functions accept</h2>
        <label>Project URL<input value={apiUrl} placeholder="https://<ref>.supabase.co" onInput={(e) => setApiUrl(e.currentTarget.value)} /></label>
        <label>Anon key <span class="muted">(optional: sent as apikey)</span><input value={anonKey} onInput={(e) => setAnonKey(e.currentTarget.value)} /></label>
        <label>JWT<textarea rows={3} value={token} required onInput={(e) => setToken(e.currentTarget.value)} /></label>
        {problem && <p role="alert" class="error-text">{problem}</p>}
        <div><button type="submit" class="primary">Sign in with this token</button></div>
      </form>
    </section>
  );
}
