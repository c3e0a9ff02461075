// The audit log with filters (actor, action, time range) and paging.
import { useState, type FormEvent } from 'react';
import { api, orgPath, type AuditLogEntry, type Page } from '../api/client';
import { Empty, Field, LoadError, Loading, formatDateTime, useResource } from '../ui';

interface Filters {
  actor_id: string;
  action: string;
  since: string;
  until: string;
}

const toRFC3339 = (local: string) => (local ? new Date(local).toISOString() : undefined);

export function AuditLog({ org }: { org: string }) {
  const [filters, setFilters] = useState<Filters>({ actor_id: '', action: '', since: '', until: '' });
  const [cursor, setCursor] = useState<string | null>(null);
  const [older, setOlder] = useState<AuditLogEntry[]>([]);
  const log = useResource(
    (signal) =>
      api.get<Page<AuditLogEntry>>(
        orgPath(org, '/audit-logs'),
        { limit: 50, actor_id: filters.actor_id, action: filters.action, since: toRFC3339(filters.since), until: toRFC3339(filters.until), cursor },
        signal,
      ),
    [org, filters, cursor],
  );
  const apply = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    setOlder([]);
    setCursor(null);
    setFilters({
      actor_id: String(f.get('actor_id') ?? '').trim(),
      action: String(f.get('action') ?? '').trim(),
      since: String(f.get('since') ?? ''),
      until: String(f.get('until') ?? ''),
    });
  };
  const rows = [...older, ...(log.data?.data ?? [])];
  return (
    <section>
      <h1>Audit log</h1>
      <form className="inline-form card" onSubmit={apply} aria-label="Filter the audit log">
        <Field label="Action" name="action" placeholder="e.g. task.update" error={log.error} />
        <Field label="Actor id" name="actor_id" error={log.error} />
        <Field label="Since" name="since" type="datetime-local" error={log.error} />
        <Field label="Until" name="until" type="datetime-local" error={log.error} />
        <button type="submit" className="primary">
          Apply filters
        </button>
      </form>
      {log.loading && rows.length === 0 ? (
        <Loading what="Loading the audit log" />
      ) : log.error ? (
        <LoadError error={log.error} retry={log.reload} />
      ) : rows.length === 0 ? (
        <Empty>No audit entries match.</Empty>
      ) : (
        <>
          <div className="table-wrap">
            <table>
              <caption className="sr-only">Audit log entries</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Action</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Target</th>
                  <th scope="col">IP</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((e) => (
                  <tr key={e.id}>
                    <td>{formatDateTime(e.created_at)}</td>
                    <td>
                      <code>{e.action}</code>
                    </td>
                    <td>
                      {e.actor_type}
                      {e.actor_id ? ` ${e.actor_id.slice(0, 8)}` : ''}
                    </td>
                    <td>
                      {e.target_type} {e.target_id.slice(0, 8)}
                    </td>
                    <td>{e.ip ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {log.data?.next_cursor && (
            <button
              type="button"
              onClick={() => {
                setOlder(rows);
                setCursor(log.data!.next_cursor!);
              }}
            >
              Load more
            </button>
          )}
        </>
      )}
    </section>
  );
}
