// API keys: list, create (the secret is shown once) and revoke.
import { useState, type FormEvent } from 'react';
import { api, orgPath, ROLES, type APIKey, type Page } from '../api/client';
import { useToast } from '../toast';
import { Empty, Field, FormError, LoadError, Loading, SelectField, formatDate, useResource } from '../ui';

export function ApiKeys({ org }: { org: string }) {
  const toast = useToast();
  const keys = useResource((signal) => api.get<Page<APIKey>>(orgPath(org, '/api-keys'), { limit: 200 }, signal), [org]);
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const create = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    setBusy(true);
    setError(undefined);
    try {
      const k = await api.post<APIKey & { secret: string }>(orgPath(org, '/api-keys'), { name: f.get('name'), role: f.get('role') });
      const { secret: s, ...key } = k;
      setSecret({ name: k.name, secret: s });
      keys.setData((p) => ({ ...p!, data: [...(p?.data ?? []), key] }));
      form.reset();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (k: APIKey) => {
    if (!window.confirm(`Revoke the key “${k.name}”? Programs using it stop working at once.`)) return;
    try {
      await api.del(orgPath(org, `/api-keys/${k.id}`));
      keys.setData((p) => ({ ...p!, data: p!.data.filter((x) => x.id !== k.id) }));
      toast.show('Key revoked', 'success');
    } catch (err) {
      toast.error(err, 'Could not revoke the key');
    }
  };
  if (keys.loading && !keys.data) return <Loading what="Loading API keys" />;
  if (keys.error) return <LoadError error={keys.error} retry={keys.reload} />;
  const list = keys.data!.data.filter((k) => !k.revoked_at);
  return (
    <section>
      <h1>API keys</h1>
      <p>Programs use a key as <code>Authorization: Bearer &lt;key&gt;</code>; it acts in this organization with its role.</p>
      <form className="inline-form card" onSubmit={create} noValidate aria-label="Create API key">
        <Field label="Name" name="name" required error={error} />
        <SelectField label="Role" name="role" defaultValue="member" error={error}>
          {ROLES.filter((r) => r !== 'owner').map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </SelectField>
        <button type="submit" className="primary" disabled={busy}>
          Create key
        </button>
        <FormError error={error} fields={['name', 'role']} />
      </form>
      {secret && (
        <div className="secret card" role="status">
          <h2>Copy the key “{secret.name}” now</h2>
          <p>It is shown this once; CODITECT keeps only a hash of it.</p>
          <code className="secret-value" tabIndex={0}>
            {secret.secret}
          </code>
          <div className="actions">
            <button
              type="button"
              onClick={() =>
                navigator.clipboard?.writeText(secret.secret).then(
                  () => toast.show('Copied', 'success'),
                  () => toast.show('Copy it by hand: the clipboard is not available', 'error'),
                )
              }
            >
              Copy
            </button>
            <button type="button" onClick={() => setSecret(null)}>
              Done
            </button>
          </div>
        </div>
      )}
      {list.length === 0 ? (
        <Empty>No API keys yet.</Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">API keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key</th>
                <th scope="col">Role</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((k) => (
                <tr key={k.id}>
                  <td>{k.name}</td>
                  <td>
                    <code>{k.prefix}…</code>
                  </td>
                  <td>{k.role}</td>
                  <td>{formatDate(k.created_at)}</td>
                  <td>{formatDate(k.last_used_at)}</td>
                  <td>
                    <button type="button" className="link danger" onClick={() => revoke(k)}>
                      Revoke<span className="sr-only"> {k.name}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
