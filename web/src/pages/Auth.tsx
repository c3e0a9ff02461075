// Signing up, in and back in: sign up, log in (with the TOTP step), verify email,
// reset password, and accepting an invitation.
import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { api, ApiError, isStatus, type Organization, type PendingInvitation, type Role } from '../api/client';
import { Link, navigate, useLocation } from '../router';
import { useSession } from '../session';
import { Field, FormError, LoadError, Loading, useResource } from '../ui';

function AuthCard({ title, children, footer }: { title: string; children: ReactNode; footer?: ReactNode }) {
  return (
    <main className="auth" id="main">
      <div className="auth-card">
        <p className="brand" aria-hidden="true">
          CODITECT
        </p>
        <h1>{title}</h1>
        {children}
        {footer && <div className="auth-footer">{footer}</div>}
      </div>
    </main>
  );
}

/** A same-site path to go to after signing in (never another origin). */
function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

export function Signup() {
  const { refresh } = useSession();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    setBusy(true);
    setError(undefined);
    try {
      const slug = String(f.get('organization_slug') ?? '').trim();
      const res = await api.post<{ organization: Organization }>('/v1/signup', {
        name: f.get('name'),
        email: f.get('email'),
        password: f.get('password'),
        organization_name: f.get('organization_name'),
        ...(slug ? { organization_slug: slug } : {}),
        session: 'cookie',
      });
      await refresh();
      navigate(`/o/${res.organization.slug}`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  const fields = ['name', 'email', 'password', 'organization_name', 'organization_slug'];
  return (
    <AuthCard
      title="Create your account"
      footer={
        <>
          Already have an account? <Link to="/login">Log in</Link>
        </>
      }
    >
      <form onSubmit={submit} noValidate>
        <Field label="Your name" name="name" autoComplete="name" required error={error} />
        <Field label="Email" name="email" type="email" autoComplete="email" required error={error} />
        <Field label="Password" name="password" type="password" autoComplete="new-password" required error={error} hint="At least 10 characters." />
        <Field label="Organization name" name="organization_name" autoComplete="organization" required error={error} />
        <Field label="Organization URL name (optional)" name="organization_slug" error={error} hint="Lowercase letters, digits and hyphens; made from the name when empty." />
        <FormError error={error} fields={fields} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create account'}
        </button>
      </form>
    </AuthCard>
  );
}

export function Login() {
  const { refresh } = useSession();
  const { query } = useLocation();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [needCode, setNeedCode] = useState(false);
  const [creds, setCreds] = useState({ email: '', password: '' });
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const c = needCode ? creds : { email: String(f.get('email')), password: String(f.get('password')) };
    setCreds(c);
    setBusy(true);
    setError(undefined);
    try {
      await api.post('/v1/auth/login', { ...c, ...(needCode ? { totp_code: String(f.get('totp_code')).trim() } : {}), session: 'cookie' });
      await refresh();
      navigate(safeNext(query.get('next')));
    } catch (err) {
      setBusy(false);
      if (err instanceof ApiError && err.code === 'auth.mfa_required') {
        setNeedCode(true);
        return;
      }
      if (err instanceof ApiError && err.code === 'auth.mfa_invalid') {
        setError(new ApiError(err.status, err.code, err.message, [{ field: 'totp_code', message: 'That code is not valid. Try the current one.' }]));
        return;
      }
      setError(err);
    }
  };
  return (
    <AuthCard
      title={needCode ? 'Two-factor authentication' : 'Log in'}
      footer={
        <>
          New here? <Link to="/signup">Create an account</Link> · <Link to="/reset-password">Forgot password?</Link>
        </>
      }
    >
      <form onSubmit={submit} noValidate>
        {needCode ? (
          <>
            <p>Enter the 6-digit code from your authenticator app, or a recovery code.</p>
            <Field label="Authentication code" name="totp_code" inputMode="numeric" autoComplete="one-time-code" autoFocus required error={error} />
          </>
        ) : (
          <>
            <Field label="Email" name="email" type="email" autoComplete="email" required error={error} />
            <Field label="Password" name="password" type="password" autoComplete="current-password" required error={error} />
          </>
        )}
        <FormError error={error} fields={['email', 'password', 'totp_code']} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Signing in…' : needCode ? 'Verify' : 'Log in'}
        </button>
      </form>
    </AuthCard>
  );
}

export function VerifyEmail() {
  const { query } = useLocation();
  const token = query.get('token') ?? '';
  const [state, setState] = useState<'working' | 'done' | unknown>('working');
  useEffect(() => {
    if (!token) {
      setState(new ApiError(404, 'missing', 'This link has no token.'));
      return;
    }
    api.post('/v1/auth/verify-email', { token }).then(
      () => setState('done'),
      (err) => setState(err),
    );
  }, [token]);
  return (
    <AuthCard title="Verify your email" footer={<Link to="/">Continue to CODITECT</Link>}>
      {state === 'working' ? (
        <Loading what="Verifying" />
      ) : state === 'done' ? (
        <p role="status">Your email address is verified. Thank you!</p>
      ) : (
        <p role="alert">{isStatus(state, 404) ? 'This link is not valid or has expired. Request a new one from your account settings.' : (state as Error).message}</p>
      )}
    </AuthCard>
  );
}

export function ResetPassword() {
  const { query } = useLocation();
  const token = query.get('token');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    setBusy(true);
    setError(undefined);
    try {
      if (token) await api.post('/v1/auth/password-reset/confirm', { token, password: f.get('password') });
      else await api.post('/v1/auth/password-reset', { email: f.get('email') });
      setDone(true);
    } catch (err) {
      setError(isStatus(err, 404) ? new ApiError(404, 'expired', 'This link is not valid or has expired. Request a new one.') : err);
    } finally {
      setBusy(false);
    }
  };
  if (done) {
    return (
      <AuthCard title="Reset your password" footer={<Link to="/login">Back to log in</Link>}>
        <p role="status">{token ? 'Your password is changed. Log in with the new one.' : 'If that address has an account, a reset link is on its way.'}</p>
      </AuthCard>
    );
  }
  return (
    <AuthCard title={token ? 'Choose a new password' : 'Reset your password'} footer={<Link to="/login">Back to log in</Link>}>
      <form onSubmit={submit} noValidate>
        {token ? (
          <Field label="New password" name="password" type="password" autoComplete="new-password" required error={error} hint="At least 10 characters." />
        ) : (
          <Field label="Email" name="email" type="email" autoComplete="email" required error={error} />
        )}
        <FormError error={error} fields={['password', 'email']} />
        <button type="submit" className="primary" disabled={busy}>
          {token ? 'Set password' : 'Send reset link'}
        </button>
      </form>
    </AuthCard>
  );
}

export function AcceptInvitation() {
  const { query, path } = useLocation();
  const { me, refresh } = useSession();
  const token = query.get('token') ?? '';
  const inv = useResource((signal) => api.get<PendingInvitation>(`/v1/invitations/${encodeURIComponent(token)}`, undefined, signal), [token]);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const accept = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    setBusy(true);
    setError(undefined);
    try {
      const body = me ? {} : { name: f.get('name'), password: f.get('password'), session: 'cookie' };
      const res = await api.post<{ organization: Organization; role: Role }>(`/v1/invitations/${encodeURIComponent(token)}/accept`, body);
      await refresh();
      navigate(`/o/${res.organization.slug}`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  if (inv.loading || me === undefined) return <AuthCard title="Invitation"><Loading /></AuthCard>;
  if (inv.error)
    return (
      <AuthCard title="Invitation" footer={<Link to="/">Go to CODITECT</Link>}>
        {isStatus(inv.error, 404) ? <p role="alert">This invitation is not valid, was revoked, or has expired.</p> : <LoadError error={inv.error} retry={inv.reload} />}
      </AuthCard>
    );
  const i = inv.data!;
  return (
    <AuthCard title={`Join ${i.organization.name}`}>
      <p>
        You are invited to <strong>{i.organization.name}</strong> as <strong>{i.role}</strong> ({i.email}).
      </p>
      <form onSubmit={accept} noValidate>
        {!me && (
          <>
            <p className="hint">
              Create your account to join, or <Link to={`/login?next=${encodeURIComponent(path + '?token=' + token)}`}>log in</Link> if you have one.
            </p>
            <Field label="Your name" name="name" autoComplete="name" required error={error} />
            <Field label="Password" name="password" type="password" autoComplete="new-password" required error={error} hint="At least 10 characters." />
          </>
        )}
        {me && <p className="hint">Signed in as {me.account.email}.</p>}
        <FormError error={error} fields={me ? [] : ['name', 'password']} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Joining…' : 'Accept invitation'}
        </button>
      </form>
    </AuthCard>
  );
}
