// The app: providers, the route table, and the signed-in shell (header, organization
// switcher, navigation).
import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { api, type MyMembership, type Organization } from './api/client';
import { Account } from './pages/Account';
import { AcceptInvitation, Login, ResetPassword, Signup, VerifyEmail } from './pages/Auth';
import { ApiKeys } from './pages/ApiKeys';
import { AuditLog } from './pages/AuditLog';
import { Billing } from './pages/Billing';
import { Members } from './pages/Members';
import { ProjectPage } from './pages/Project';
import { WorkspacePage, Workspaces } from './pages/Workspaces';
import { Link, Redirect, match, navigate, useLocation } from './router';
import { SessionProvider, useSession } from './session';
import { ToastProvider, useToast } from './toast';
import { Field, FormError, Loading, NotFound } from './ui';

export function App() {
  return (
    <ToastProvider>
      <SessionProvider>
        <Routes />
      </SessionProvider>
    </ToastProvider>
  );
}

const publicRoutes: Record<string, () => ReactNode> = {
  '/login': () => <Login />,
  '/signup': () => <Signup />,
  '/verify-email': () => <VerifyEmail />,
  '/reset-password': () => <ResetPassword />,
  '/invitations/accept': () => <AcceptInvitation />,
};

function Routes() {
  const { path, query } = useLocation();
  const { me } = useSession();
  useTitle(path);
  const pub = publicRoutes[path];
  if (pub) {
    if (me && (path === '/login' || path === '/signup')) return <Redirect to={query.get('next') ?? '/'} />;
    return <>{pub()}</>;
  }
  if (me === undefined) return <Loading />;
  if (me === null) return <Redirect to={path === '/' ? '/login' : `/login?next=${encodeURIComponent(path + (query.size ? '?' + query : ''))}`} />;
  if (path === '/') {
    const first = me.memberships[0];
    return <Redirect to={first ? `/o/${first.organization.slug}` : '/orgs/new'} />;
  }
  const org = path.match(/^\/o\/([^/]+)/)?.[1];
  return (
    <Shell org={org ? decodeURIComponent(org) : undefined} memberships={me.memberships}>
      <Page path={path} />
    </Shell>
  );
}

function Page({ path }: { path: string }) {
  let m: Record<string, string> | null;
  if (path === '/orgs/new') return <CreateOrganization />;
  if (path === '/account') return <Account />;
  if ((m = match('/o/:org', path))) return <Workspaces org={m.org} />;
  if ((m = match('/o/:org/workspaces/:id', path))) return <WorkspacePage org={m.org} id={m.id} />;
  if ((m = match('/o/:org/projects/:id', path))) return <ProjectPage org={m.org} id={m.id} />;
  if ((m = match('/o/:org/members', path))) return <Members org={m.org} />;
  if ((m = match('/o/:org/api-keys', path))) return <ApiKeys org={m.org} />;
  if ((m = match('/o/:org/audit', path))) return <AuditLog org={m.org} />;
  if ((m = match('/o/:org/billing', path))) return <Billing org={m.org} />;
  return <NotFound />;
}

/** Names the document after the screen and moves focus to the main heading on navigation. */
function useTitle(path: string) {
  const first = useRef(true);
  useEffect(() => {
    const id = window.setTimeout(() => {
      const h1 = document.querySelector('main h1');
      document.title = h1?.textContent ? `${h1.textContent} · CODITECT` : 'CODITECT';
      if (first.current) {
        first.current = false;
        return;
      }
      if (h1 instanceof HTMLElement) {
        h1.tabIndex = -1;
        h1.focus({ preventScroll: true });
      }
    }, 50);
    return () => window.clearTimeout(id);
  }, [path]);
}

function Shell({ org, memberships, children }: { org?: string; memberships: MyMembership[]; children: ReactNode }) {
  const { me, signOut } = useSession();
  const { path } = useLocation();
  const toast = useToast();
  const current = memberships.find((m) => m.organization.slug === org || m.organization.id === org);
  const role = current?.role;
  const admin = role === 'admin' || role === 'owner';
  const nav: [string, string, boolean][] = org
    ? [
        [`/o/${org}`, 'Work', true],
        [`/o/${org}/members`, 'Members', true],
        [`/o/${org}/api-keys`, 'API keys', admin],
        [`/o/${org}/audit`, 'Audit log', admin],
        [`/o/${org}/billing`, 'Billing', admin],
      ]
    : [];
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="logo">
          CODITECT
        </Link>
        <label className="org-switch">
          <span className="sr-only">Organization</span>
          <select
            aria-label="Organization"
            value={current?.organization.slug ?? ''}
            onChange={(e) => navigate(e.target.value === '__new' ? '/orgs/new' : `/o/${e.target.value}`)}
          >
            {!current && <option value="">Choose an organization</option>}
            {memberships.map((m) => (
              <option key={m.organization.id} value={m.organization.slug}>
                {m.organization.name}
              </option>
            ))}
            <option value="__new">+ New organization…</option>
          </select>
        </label>
        <nav aria-label="Main" className="mainnav">
          {nav
            .filter(([, , show]) => show)
            .map(([to, label]) => (
              <Link key={to} to={to} aria-current={path === to || (label === 'Work' && /\/(workspaces|projects)\//.test(path)) ? 'page' : undefined}>
                {label}
              </Link>
            ))}
        </nav>
        <div className="account-menu">
          <Link to="/account" aria-current={path === '/account' ? 'page' : undefined} title={me?.account.email}>
            Account
          </Link>
          <button
            type="button"
            className="link"
            onClick={() =>
              signOut().then(
                () => navigate('/login'),
                (err) => toast.error(err, 'Could not sign out'),
              )
            }
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main" className="content">
        {children}
      </main>
    </>
  );
}

function CreateOrganization() {
  const { refresh } = useSession();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const slug = String(f.get('slug') ?? '').trim();
    setBusy(true);
    setError(undefined);
    try {
      const o = await api.post<Organization>('/v1/orgs', { name: f.get('name'), ...(slug ? { slug } : {}) });
      await refresh();
      navigate(`/o/${o.slug}`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <section className="narrow">
      <h1>New organization</h1>
      <form onSubmit={submit} noValidate>
        <Field label="Name" name="name" required error={error} autoFocus />
        <Field label="URL name (optional)" name="slug" error={error} hint="Lowercase letters, digits and hyphens." />
        <FormError error={error} fields={['name', 'slug']} />
        <button type="submit" className="primary" disabled={busy}>
          Create organization
        </button>
      </form>
    </section>
  );
}
