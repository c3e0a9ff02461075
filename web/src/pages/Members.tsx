// Members and their roles, and invitations (admin and up).
import { useState, type FormEvent } from 'react';
import { api, orgPath, ROLES, type Invitation, type Membership, type Page, type Role } from '../api/client';
import { useSession } from '../session';
import { useToast } from '../toast';
import { Empty, Field, FormError, LoadError, Loading, SelectField, formatDate, useResource } from '../ui';
import { memberLabel } from './Project';

export function Members({ org }: { org: string }) {
  const { me, refresh } = useSession();
  const toast = useToast();
  const myRole = me?.memberships.find((m) => m.organization.slug === org || m.organization.id === org)?.role;
  const admin = myRole === 'admin' || myRole === 'owner';
  const members = useResource((signal) => api.get<Page<Membership>>(orgPath(org, '/members'), { limit: 200 }, signal), [org]);
  const invitations = useResource(
    (signal) => (admin ? api.get<Page<Invitation>>(orgPath(org, '/invitations'), { limit: 200 }, signal) : Promise.resolve({ data: [] })),
    [org, admin],
  );
  if (members.loading && !members.data) return <Loading what="Loading members" />;
  if (members.error) return <LoadError error={members.error} retry={members.reload} />;
  const list = members.data!.data;
  const setMember = (m: Membership) => members.setData((p) => ({ ...p!, data: p!.data.map((x) => (x.account_id === m.account_id ? m : x)) }));

  const changeRole = async (m: Membership, role: Role) => {
    setMember({ ...m, role });
    try {
      setMember(await api.patch<Membership>(orgPath(org, `/members/${m.account_id}`), { role }));
      toast.show('Role changed', 'success');
      if (m.account_id === me?.account.id) await refresh();
    } catch (err) {
      setMember(m);
      toast.error(err, 'Could not change the role');
    }
  };
  const removeMember = async (m: Membership) => {
    const self = m.account_id === me?.account.id;
    if (!window.confirm(self ? 'Leave this organization?' : 'Remove this member from the organization?')) return;
    try {
      await api.del(orgPath(org, `/members/${m.account_id}`));
      members.setData((p) => ({ ...p!, data: p!.data.filter((x) => x.account_id !== m.account_id) }));
      toast.show(self ? 'You left the organization' : 'Member removed', 'success');
      if (self) {
        await refresh();
        window.location.assign('/');
      }
    } catch (err) {
      toast.error(err, 'Could not remove the member');
    }
  };
  const pending = (invitations.data?.data ?? []).filter((i) => !i.accepted_at && !i.revoked_at);

  return (
    <section>
      <h1>Members</h1>
      <div className="table-wrap">
        <table>
          <caption className="sr-only">Members</caption>
          <thead>
            <tr>
              <th scope="col">Member</th>
              <th scope="col">Role</th>
              <th scope="col">Since</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((m) => (
              <tr key={m.account_id}>
                <td>
                  {memberLabel(m, me?.account.id)}
                  {m.email && <div className="hint">{m.email}</div>}
                </td>
                <td>
                  {admin ? (
                    <select aria-label={`Role of ${memberLabel(m, me?.account.id)}`} value={m.role} onChange={(e) => changeRole(m, e.target.value as Role)}>
                      {ROLES.map((r) => (
                        <option key={r} value={r}>
                          {r}
                        </option>
                      ))}
                    </select>
                  ) : (
                    m.role
                  )}
                </td>
                <td>{formatDate(m.created_at)}</td>
                <td>
                  {(admin || m.account_id === me?.account.id) && (
                    <button type="button" className="link danger" onClick={() => removeMember(m)}>
                      {m.account_id === me?.account.id ? 'Leave' : 'Remove'}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      {admin && (
        <>
          <h2>Invite someone</h2>
          <InviteForm
            org={org}
            canInviteOwner={myRole === 'owner'}
            onInvited={(i) => {
              invitations.setData((p) => ({ ...p!, data: [i, ...(p?.data ?? [])] }));
              toast.show(`Invitation sent to ${i.email}`, 'success');
            }}
          />
          <h2>Pending invitations</h2>
          {invitations.loading && !invitations.data ? (
            <Loading what="Loading invitations" />
          ) : invitations.error ? (
            <LoadError error={invitations.error} retry={invitations.reload} />
          ) : pending.length === 0 ? (
            <Empty>No pending invitations.</Empty>
          ) : (
            <ul className="rows" aria-label="Pending invitations">
              {pending.map((i) => (
                <li key={i.id}>
                  <span>
                    <strong>{i.email}</strong> as {i.role} · expires {formatDate(i.expires_at)}
                  </span>
                  <button
                    type="button"
                    className="link danger"
                    onClick={async () => {
                      try {
                        await api.del(orgPath(org, `/invitations/${i.id}`));
                        invitations.setData((p) => ({ ...p!, data: p!.data.filter((x) => x.id !== i.id) }));
                        toast.show('Invitation revoked', 'success');
                      } catch (err) {
                        toast.error(err, 'Could not revoke the invitation');
                      }
                    }}
                  >
                    Revoke<span className="sr-only"> the invitation for {i.email}</span>
                  </button>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}

function InviteForm({ org, canInviteOwner, onInvited }: { org: string; canInviteOwner: boolean; onInvited: (i: Invitation) => void }) {
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    setBusy(true);
    setError(undefined);
    try {
      onInvited(await api.post<Invitation>(orgPath(org, '/invitations'), { email: f.get('email'), role: f.get('role') }));
      form.reset();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="inline-form card" onSubmit={submit} noValidate aria-label="Invite someone">
      <Field label="Email" name="email" type="email" required error={error} />
      <SelectField label="Role" name="role" defaultValue="member" error={error}>
        {ROLES.filter((r) => r !== 'owner' || canInviteOwner).map((r) => (
          <option key={r} value={r}>
            {r}
          </option>
        ))}
      </SelectField>
      <button type="submit" className="primary" disabled={busy}>
        Send invitation
      </button>
      <FormError error={error} fields={['email', 'role']} />
    </form>
  );
}
