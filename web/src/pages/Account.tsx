// Account settings: profile, email verification, sessions, and two-factor
// authentication (TOTP enrolment with a QR code, recovery codes, turning it off).
import { useState, type FormEvent } from 'react';
import { api, request, type MFAEnrollment, type Page, type Session } from '../api/client';
import { navigate } from '../router';
import { useSession } from '../session';
import { useToast } from '../toast';
import { Field, FormError, LoadError, Loading, formatDateTime, useResource } from '../ui';

export function Account() {
  const { me, refresh } = useSession();
  const toast = useToast();
  const sessions = useResource((signal) => api.get<Page<Session>>('/v1/me/sessions', { limit: 200 }, signal), []);
  if (!me) return <Loading />;
  const revoke = async (s: Session) => {
    try {
      await api.del(`/v1/me/sessions/${s.id}`);
      if (s.current) {
        await refresh();
        navigate('/login');
        return;
      }
      sessions.setData((p) => ({ ...p!, data: p!.data.filter((x) => x.id !== s.id) }));
      toast.show('Session ended', 'success');
    } catch (err) {
      toast.error(err, 'Could not end the session');
    }
  };
  return (
    <section className="narrow-wide">
      <h1>Account</h1>
      <div className="card">
        <h2>Profile</h2>
        <dl className="pairs">
          <dt>Name</dt>
          <dd>{me.account.name}</dd>
          <dt>Email</dt>
          <dd>
            {me.account.email}{' '}
            {me.account.email_verified_at ? (
              <span className="badge ok">verified</span>
            ) : (
              <>
                <span className="badge warn">not verified</span>{' '}
                <button
                  type="button"
                  className="link"
                  onClick={() =>
                    api.post('/v1/me/email/verify').then(
                      () => toast.show('A new verification link is on its way', 'success'),
                      (err) => toast.error(err, 'Could not send the link'),
                    )
                  }
                >
                  Send the verification link again
                </button>
              </>
            )}
          </dd>
        </dl>
      </div>

      <MFA enabled={me.mfa_enabled} onChange={refresh} />

      <div className="card">
        <h2>Sessions</h2>
        {sessions.loading && !sessions.data ? (
          <Loading what="Loading sessions" />
        ) : sessions.error ? (
          <LoadError error={sessions.error} retry={sessions.reload} />
        ) : (
          <ul className="rows" aria-label="Active sessions">
            {sessions.data!.data.map((s) => (
              <li key={s.id}>
                <span>
                  <strong>{s.user_agent || 'Unknown device'}</strong>
                  {s.current && <span className="badge ok">this session</span>}
                  <br />
                  <small>
                    {s.ip ?? 'unknown address'} · last used {formatDateTime(s.last_used_at)}
                  </small>
                </span>
                <button type="button" className="link danger" onClick={() => revoke(s)}>
                  {s.current ? 'Sign out' : 'End session'}
                </button>
              </li>
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}

function MFA({ enabled, onChange }: { enabled: boolean; onChange: () => Promise<unknown> }) {
  const toast = useToast();
  const [enrollment, setEnrollment] = useState<MFAEnrollment | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const start = async () => {
    setError(undefined);
    try {
      setEnrollment(await api.post<MFAEnrollment>('/v1/me/mfa/totp'));
    } catch (err) {
      toast.error(err, 'Could not start two-factor setup');
    }
  };
  const submit = (path: string, method: 'POST' | 'DELETE') => async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const code = String(new FormData(e.currentTarget).get('code') ?? '').trim();
    setBusy(true);
    setError(undefined);
    try {
      if (method === 'POST') {
        const res = await api.post<{ recovery_codes: string[] }>(path, { code });
        setCodes(res.recovery_codes);
        setEnrollment(null);
        toast.show('Two-factor authentication is on', 'success');
      } else {
        await request('DELETE', path, { body: { code } });
        toast.show('Two-factor authentication is off', 'success');
      }
      await onChange();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="card">
      <h2>Two-factor authentication</h2>
      {codes && (
        <div className="secret" role="status">
          <p>
            <strong>Save these recovery codes.</strong> Each works once if you lose your authenticator; they are shown only now.
          </p>
          <ul className="codes">
            {codes.map((c) => (
              <li key={c}>
                <code>{c}</code>
              </li>
            ))}
          </ul>
          <button type="button" onClick={() => setCodes(null)}>
            I saved them
          </button>
        </div>
      )}
      {enabled && !codes && (
        <form onSubmit={submit('/v1/me/mfa/totp', 'DELETE')} noValidate aria-label="Turn off two-factor authentication">
          <p>
            <span className="badge ok">on</span> Signing in asks for a code from your authenticator app.
          </p>
          <Field label="Current code or a recovery code" name="code" autoComplete="one-time-code" required error={error} />
          <FormError error={error} fields={['code']} />
          <button type="submit" className="danger" disabled={busy}>
            Turn off
          </button>
        </form>
      )}
      {!enabled && !enrollment && !codes && (
        <>
          <p>Protect your account with a code from an authenticator app when you sign in.</p>
          <button type="button" className="primary" onClick={start}>
            Set up two-factor authentication
          </button>
        </>
      )}
      {enrollment && (
        <form onSubmit={submit('/v1/me/mfa/totp/verify', 'POST')} noValidate aria-label="Verify two-factor authentication">
          <p>Scan this QR code with your authenticator app, or enter the secret by hand. Then type the code it shows.</p>
          {enrollment.qr_png && <img className="qr" src={`data:image/png;base64,${enrollment.qr_png}`} alt="QR code for your authenticator app" width={200} height={200} />}
          <p>
            Secret: <code className="secret-value">{enrollment.secret}</code>
          </p>
          <Field label="Code from the app" name="code" inputMode="numeric" autoComplete="one-time-code" required error={error} />
          <FormError error={error} fields={['code']} />
          <div className="actions">
            <button type="submit" className="primary" disabled={busy}>
              Verify and turn on
            </button>
            <button type="button" onClick={() => setEnrollment(null)}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </div>
  );
}
