// Workspaces and, inside one, its projects.
import { useState, type FormEvent } from 'react';
import { api, orgPath, type Page, type Project, type Workspace } from '../api/client';
import { Link, navigate } from '../router';
import { useToast } from '../toast';
import { Empty, Field, FormError, LoadError, Loading, formatDate, useResource } from '../ui';

/** A create form with one name field and an optional description. */
function CreateForm({ label, onCreate }: { label: string; onCreate: (name: string, description: string) => Promise<void> }) {
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    setBusy(true);
    setError(undefined);
    try {
      await onCreate(String(f.get('name')), String(f.get('description') ?? ''));
      form.reset();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="inline-form card" onSubmit={submit} noValidate aria-label={label}>
      <Field label="Name" name="name" required error={error} />
      <Field label="Description (optional)" name="description" error={error} />
      <button type="submit" className="primary" disabled={busy}>
        {label}
      </button>
      <FormError error={error} fields={['name', 'description']} />
    </form>
  );
}

export function Workspaces({ org }: { org: string }) {
  const ws = useResource((signal) => api.get<Page<Workspace>>(orgPath(org, '/workspaces'), { limit: 200 }, signal), [org]);
  if (ws.loading && !ws.data) return <Loading what="Loading workspaces" />;
  if (ws.error) return <LoadError error={ws.error} retry={ws.reload} />;
  const list = ws.data!.data;
  return (
    <section>
      <h1>Workspaces</h1>
      <CreateForm
        label="Create workspace"
        onCreate={async (name, description) => {
          const w = await api.post<Workspace>(orgPath(org, '/workspaces'), { name, description });
          ws.setData((p) => ({ ...p!, data: [...(p?.data ?? []), w] }));
        }}
      />
      {list.length === 0 ? (
        <Empty>No workspaces yet. A workspace groups related projects — create your first one above.</Empty>
      ) : (
        <ul className="cards" aria-label="Workspaces">
          {list.map((w) => (
            <li key={w.id} className="card">
              <h2>
                <Link to={`/o/${org}/workspaces/${w.id}`}>{w.name}</Link>
              </h2>
              {w.description && <p>{w.description}</p>}
              <p className="meta">Created {formatDate(w.created_at)}</p>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function WorkspacePage({ org, id }: { org: string; id: string }) {
  const toast = useToast();
  const ws = useResource((signal) => api.get<Workspace>(orgPath(org, `/workspaces/${id}`), undefined, signal), [org, id]);
  const projects = useResource(
    (signal) => api.get<Page<Project>>(orgPath(org, '/projects'), { workspace_id: id, limit: 200 }, signal),
    [org, id],
  );
  if (ws.loading) return <Loading />;
  if (ws.error) return <LoadError error={ws.error} retry={ws.reload} />;
  const w = ws.data!;
  const remove = async () => {
    if (!window.confirm(`Delete the workspace “${w.name}” and everything in it?`)) return;
    try {
      await api.del(orgPath(org, `/workspaces/${id}`));
      toast.show('Workspace deleted', 'success');
      navigate(`/o/${org}`);
    } catch (err) {
      toast.error(err, 'Could not delete the workspace');
    }
  };
  return (
    <section>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to={`/o/${org}`}>Workspaces</Link> <span aria-hidden="true">/</span> <span>{w.name}</span>
      </nav>
      <div className="title-row">
        <h1>{w.name}</h1>
        <button type="button" className="danger" onClick={remove}>
          Delete workspace
        </button>
      </div>
      {w.description && <p>{w.description}</p>}
      <h2>Projects</h2>
      <CreateForm
        label="Create project"
        onCreate={async (name, description) => {
          const p = await api.post<Project>(orgPath(org, '/projects'), { workspace_id: id, name, description });
          projects.setData((prev) => ({ ...prev!, data: [...(prev?.data ?? []), p] }));
        }}
      />
      {projects.loading && !projects.data ? (
        <Loading what="Loading projects" />
      ) : projects.error ? (
        <LoadError error={projects.error} retry={projects.reload} />
      ) : projects.data!.data.length === 0 ? (
        <Empty>No projects in this workspace yet.</Empty>
      ) : (
        <ul className="cards" aria-label="Projects">
          {projects.data!.data.map((p) => (
            <li key={p.id} className="card">
              <h3>
                <Link to={`/o/${org}/projects/${p.id}`}>{p.name}</Link>
              </h3>
              {p.description && <p>{p.description}</p>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
