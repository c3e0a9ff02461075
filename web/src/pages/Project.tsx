// A project's tasks: a list and a board by status (drag, or keyboard, to change
// status), create, edit and delete, assignee, due date and filters. Changes show at
// once and are rolled back, with a toast, when the server refuses them.
import { useEffect, useRef, useState, type DragEvent, type FormEvent, type KeyboardEvent } from 'react';
import {
  api,
  orgPath,
  STATUS_LABEL,
  TASK_STATUSES,
  type Membership,
  type Page,
  type Project,
  type Task,
  type TaskStatus,
  type Workspace,
} from '../api/client';
import { Link, navigate } from '../router';
import { useSession } from '../session';
import { useToast } from '../toast';
import { Empty, Field, FormError, LoadError, Loading, SelectField, formatDate, useResource } from '../ui';

type View = 'board' | 'list';

/** A member's display name: "You", else their name, else their email address. */
export function memberLabel(m: Pick<Membership, 'account_id' | 'role' | 'name' | 'email'>, myId?: string): string {
  if (m.account_id === myId) return `You (${m.role})`;
  const who = m.name || m.email || `Member ${m.account_id.slice(0, 8)}`;
  return `${who} (${m.role})`;
}

function dueValue(iso: string | null | undefined): string {
  return iso ? iso.slice(0, 10) : '';
}

function toDue(v: FormDataEntryValue | null): string | null {
  const s = String(v ?? '');
  return s ? `${s}T00:00:00Z` : null;
}

export function ProjectPage({ org, id }: { org: string; id: string }) {
  const toast = useToast();
  const { me } = useSession();
  const [view, setView] = useState<View>('board');
  const [status, setStatus] = useState<'' | TaskStatus>('');
  const [assignee, setAssignee] = useState('');
  const [editing, setEditing] = useState<Task | null>(null);
  const project = useResource((signal) => api.get<Project>(orgPath(org, `/projects/${id}`), undefined, signal), [org, id]);
  const workspace = useResource(
    (signal) =>
      project.data ? api.get<Workspace>(orgPath(org, `/workspaces/${project.data.workspace_id}`), undefined, signal) : Promise.resolve(undefined),
    [org, project.data?.workspace_id],
  );
  const members = useResource((signal) => api.get<Page<Membership>>(orgPath(org, '/members'), { limit: 200 }, signal), [org]);
  const tasks = useResource(
    (signal) => api.get<Page<Task>>(orgPath(org, `/projects/${id}/tasks`), { limit: 200, status, assignee_id: assignee }, signal),
    [org, id, status, assignee],
  );
  const myId = me?.account.id;
  const memberList = members.data?.data ?? [];
  const label = (accountId: string | null) => {
    if (!accountId) return 'Unassigned';
    const m = memberList.find((x) => x.account_id === accountId);
    return m ? memberLabel(m, myId) : `Account ${accountId.slice(0, 8)}`;
  };

  const replace = (t: Task) => tasks.setData((p) => ({ ...p!, data: p!.data.map((x) => (x.id === t.id ? t : x)) }));

  /** Changes fields of task at once, then on the server; restores task if that fails. */
  const update = async (task: Task, change: Partial<Task>, what: string) => {
    replace({ ...task, ...change });
    try {
      replace(await api.patch<Task>(orgPath(org, `/tasks/${task.id}`), change));
    } catch (err) {
      replace(task);
      toast.error(err, `Could not ${what}`);
    }
  };
  const move = (task: Task, to: TaskStatus) => {
    if (task.status !== to) void update(task, { status: to }, `move “${task.title}”`);
  };
  const remove = async (task: Task) => {
    if (!window.confirm(`Delete the task “${task.title}”?`)) return;
    const index = tasks.data!.data.findIndex((t) => t.id === task.id);
    tasks.setData((p) => ({ ...p!, data: p!.data.filter((t) => t.id !== task.id) }));
    setEditing(null);
    try {
      await api.del(orgPath(org, `/tasks/${task.id}`));
      toast.show('Task deleted', 'success');
    } catch (err) {
      tasks.setData((p) => {
        const data = [...p!.data];
        data.splice(index, 0, task);
        return { ...p!, data };
      });
      toast.error(err, 'Could not delete the task');
    }
  };

  if (project.loading) return <Loading />;
  if (project.error) return <LoadError error={project.error} retry={project.reload} />;
  const p = project.data!;
  const deleteProject = async () => {
    if (!window.confirm(`Delete the project “${p.name}” and its tasks?`)) return;
    try {
      await api.del(orgPath(org, `/projects/${id}`));
      toast.show('Project deleted', 'success');
      navigate(`/o/${org}/workspaces/${p.workspace_id}`);
    } catch (err) {
      toast.error(err, 'Could not delete the project');
    }
  };

  return (
    <section>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to={`/o/${org}`}>Workspaces</Link> <span aria-hidden="true">/</span>{' '}
        <Link to={`/o/${org}/workspaces/${p.workspace_id}`}>{workspace.data?.name ?? 'Workspace'}</Link> <span aria-hidden="true">/</span>{' '}
        <span>{p.name}</span>
      </nav>
      <div className="title-row">
        <h1>{p.name}</h1>
        <button type="button" className="danger" onClick={deleteProject}>
          Delete project
        </button>
      </div>
      {p.description && <p>{p.description}</p>}

      <NewTask
        org={org}
        projectId={id}
        members={memberList}
        myId={myId}
        onCreated={(t) => tasks.setData((prev) => ({ ...prev!, data: [...prev!.data, t] }))}
      />

      <div className="toolbar" role="group" aria-label="Filters and view">
        <label>
          Status{' '}
          <select aria-label="Filter by status" value={status} onChange={(e) => setStatus(e.target.value as TaskStatus | '')}>
            <option value="">All</option>
            {TASK_STATUSES.map((s) => (
              <option key={s} value={s}>
                {STATUS_LABEL[s]}
              </option>
            ))}
          </select>
        </label>
        <label>
          Assignee{' '}
          <select aria-label="Filter by assignee" value={assignee} onChange={(e) => setAssignee(e.target.value)}>
            <option value="">Anyone</option>
            {memberList.map((m) => (
              <option key={m.account_id} value={m.account_id}>
                {memberLabel(m, myId)}
              </option>
            ))}
          </select>
        </label>
        <div className="segmented" role="group" aria-label="View">
          <button type="button" aria-pressed={view === 'board'} onClick={() => setView('board')}>
            Board
          </button>
          <button type="button" aria-pressed={view === 'list'} onClick={() => setView('list')}>
            List
          </button>
        </div>
      </div>

      {tasks.loading && !tasks.data ? (
        <Loading what="Loading tasks" />
      ) : tasks.error ? (
        <LoadError error={tasks.error} retry={tasks.reload} />
      ) : tasks.data!.data.length === 0 && view === 'list' ? (
        <Empty>{status || assignee ? 'No tasks match these filters.' : 'No tasks yet. Add the first one above.'}</Empty>
      ) : view === 'board' ? (
        <Board tasks={tasks.data!.data} label={label} onMove={move} onOpen={setEditing} />
      ) : (
        <TaskTable tasks={tasks.data!.data} label={label} onMove={move} onOpen={setEditing} onDelete={remove} />
      )}

      {editing && (
        <EditTask
          org={org}
          task={editing}
          members={memberList}
          myId={myId}
          onClose={() => setEditing(null)}
          onSaved={(t) => {
            replace(t);
            setEditing(null);
            toast.show('Task saved', 'success');
          }}
          onDelete={() => remove(editing)}
        />
      )}
    </section>
  );
}

function AssigneeOptions({ members, myId }: { members: Membership[]; myId?: string }) {
  return (
    <>
      <option value="">Unassigned</option>
      {members.map((m) => (
        <option key={m.account_id} value={m.account_id}>
          {memberLabel(m, myId)}
        </option>
      ))}
    </>
  );
}

function NewTask(props: { org: string; projectId: string; members: Membership[]; myId?: string; onCreated: (t: Task) => void }) {
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    setBusy(true);
    setError(undefined);
    try {
      const t = await api.post<Task>(orgPath(props.org, `/projects/${props.projectId}/tasks`), {
        title: f.get('title'),
        assignee_id: String(f.get('assignee_id') || '') || null,
        due_at: toDue(f.get('due_at')),
      });
      props.onCreated(t);
      form.reset();
      (form.elements.namedItem('title') as HTMLInputElement | null)?.focus();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="inline-form card" onSubmit={submit} noValidate aria-label="Add a task">
      <Field label="New task" name="title" placeholder="What needs doing?" required error={error} />
      <SelectField label="Assignee" name="assignee_id" error={error} defaultValue="">
        <AssigneeOptions members={props.members} myId={props.myId} />
      </SelectField>
      <Field label="Due date" name="due_at" type="date" error={error} />
      <button type="submit" className="primary" disabled={busy}>
        Add task
      </button>
      <FormError error={error} fields={['title', 'assignee_id', 'due_at']} />
    </form>
  );
}

interface TaskViewProps {
  tasks: Task[];
  label: (accountId: string | null) => string;
  onMove: (t: Task, s: TaskStatus) => void;
  onOpen: (t: Task) => void;
}

/** Columns by status. A card moves by drag and drop, by ←/→ while it has focus, or by its status menu. */
export function Board({ tasks, label, onMove, onOpen }: TaskViewProps) {
  const [over, setOver] = useState<TaskStatus | null>(null);
  const [focusId, setFocusId] = useState<string | null>(null);
  const cardRefs = useRef(new Map<string, HTMLElement>());
  useEffect(() => {
    // After a keyboard move the card re-renders in another column: keep focus on it.
    if (focusId) cardRefs.current.get(focusId)?.focus();
  }, [focusId, tasks]);
  const drop = (e: DragEvent, status: TaskStatus) => {
    e.preventDefault();
    setOver(null);
    const t = tasks.find((x) => x.id === e.dataTransfer.getData('text/plain'));
    if (t) onMove(t, status);
  };
  const key = (e: KeyboardEvent, t: Task) => {
    if (e.target !== e.currentTarget) return;
    const i = TASK_STATUSES.indexOf(t.status);
    const to = e.key === 'ArrowRight' ? TASK_STATUSES[i + 1] : e.key === 'ArrowLeft' ? TASK_STATUSES[i - 1] : undefined;
    if (to) {
      e.preventDefault();
      setFocusId(t.id);
      onMove(t, to);
    } else if (e.key === 'Enter') {
      e.preventDefault();
      onOpen(t);
    }
  };
  return (
    <div className="board">
      <p id="board-help" className="sr-only">
        Drag a card to another column, or focus it and press the left or right arrow key to change its status. Press Enter to edit.
      </p>
      {TASK_STATUSES.map((s) => {
        const col = tasks.filter((t) => t.status === s);
        return (
          <section
            key={s}
            className={'column' + (over === s ? ' drop-target' : '')}
            aria-labelledby={`col-${s}`}
            data-status={s}
            onDragOver={(e) => {
              e.preventDefault();
              e.dataTransfer.dropEffect = 'move';
              setOver(s);
            }}
            onDragLeave={() => setOver((o) => (o === s ? null : o))}
            onDrop={(e) => drop(e, s)}
          >
            <h2 id={`col-${s}`}>
              {STATUS_LABEL[s]} <span className="count">{col.length}</span>
            </h2>
            <ul aria-labelledby={`col-${s}`}>
              {col.map((t) => (
                <li
                  key={t.id}
                  className="task-card"
                  draggable
                  tabIndex={0}
                  ref={(el) => {
                    if (el) cardRefs.current.set(t.id, el);
                    else cardRefs.current.delete(t.id);
                  }}
                  aria-label={`${t.title}, ${STATUS_LABEL[t.status]}`}
                  aria-describedby="board-help"
                  data-task-id={t.id}
                  onDragStart={(e) => {
                    e.dataTransfer.setData('text/plain', t.id);
                    e.dataTransfer.effectAllowed = 'move';
                  }}
                  onKeyDown={(e) => key(e, t)}
                >
                  <button type="button" className="link task-title" onClick={() => onOpen(t)}>
                    {t.title}
                  </button>
                  <div className="meta">
                    <span>{label(t.assignee_id)}</span>
                    {t.due_at && <span>Due {formatDate(t.due_at)}</span>}
                  </div>
                  <label className="card-status">
                    <span className="sr-only">Status of {t.title}</span>
                    <select value={t.status} onChange={(e) => onMove(t, e.target.value as TaskStatus)}>
                      {TASK_STATUSES.map((x) => (
                        <option key={x} value={x}>
                          {STATUS_LABEL[x]}
                        </option>
                      ))}
                    </select>
                  </label>
                </li>
              ))}
            </ul>
            {col.length === 0 && <p className="column-empty">No tasks</p>}
          </section>
        );
      })}
    </div>
  );
}

function TaskTable({ tasks, label, onMove, onOpen, onDelete }: TaskViewProps & { onDelete: (t: Task) => void }) {
  return (
    <div className="table-wrap">
      <table>
        <caption className="sr-only">Tasks</caption>
        <thead>
          <tr>
            <th scope="col">Title</th>
            <th scope="col">Status</th>
            <th scope="col">Assignee</th>
            <th scope="col">Due</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {tasks.map((t) => (
            <tr key={t.id}>
              <td>
                <button type="button" className="link" onClick={() => onOpen(t)}>
                  {t.title}
                </button>
              </td>
              <td>
                <select aria-label={`Status of ${t.title}`} value={t.status} onChange={(e) => onMove(t, e.target.value as TaskStatus)}>
                  {TASK_STATUSES.map((x) => (
                    <option key={x} value={x}>
                      {STATUS_LABEL[x]}
                    </option>
                  ))}
                </select>
              </td>
              <td>{label(t.assignee_id)}</td>
              <td>{formatDate(t.due_at)}</td>
              <td>
                <button type="button" className="link danger" onClick={() => onDelete(t)} aria-label={`Delete ${t.title}`}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function EditTask(props: {
  org: string;
  task: Task;
  members: Membership[];
  myId?: string;
  onClose: () => void;
  onSaved: (t: Task) => void;
  onDelete: () => void;
}) {
  const { task } = props;
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const dialog = useRef<HTMLDivElement>(null);
  const opener = useRef<Element | null>(document.activeElement);
  useEffect(() => {
    dialog.current?.querySelector<HTMLInputElement>('input')?.focus();
    const back = opener.current;
    return () => {
      if (back instanceof HTMLElement) back.focus();
    };
  }, []);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    setBusy(true);
    setError(undefined);
    try {
      props.onSaved(
        await api.patch<Task>(orgPath(props.org, `/tasks/${task.id}`), {
          title: f.get('title'),
          description: f.get('description'),
          status: f.get('status'),
          assignee_id: String(f.get('assignee_id') || '') || null,
          due_at: toDue(f.get('due_at')),
        }),
      );
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <div className="backdrop" onMouseDown={(e) => e.target === e.currentTarget && props.onClose()}>
      <div
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby="edit-title"
        ref={dialog}
        onKeyDown={(e) => {
          if (e.key === 'Escape') props.onClose();
          if (e.key === 'Tab') trapFocus(e, dialog.current);
        }}
      >
        <h2 id="edit-title">Edit task</h2>
        <form onSubmit={submit} noValidate>
          <Field label="Title" name="title" defaultValue={task.title} required error={error} />
          <div className="field">
            <label htmlFor="edit-description">Description</label>
            <textarea id="edit-description" name="description" defaultValue={task.description} rows={4} />
          </div>
          <SelectField label="Status" name="status" defaultValue={task.status} error={error}>
            {TASK_STATUSES.map((s) => (
              <option key={s} value={s}>
                {STATUS_LABEL[s]}
              </option>
            ))}
          </SelectField>
          <SelectField label="Assignee" name="assignee_id" defaultValue={task.assignee_id ?? ''} error={error}>
            <AssigneeOptions members={props.members} myId={props.myId} />
          </SelectField>
          <Field label="Due date" name="due_at" type="date" defaultValue={dueValue(task.due_at)} error={error} />
          <FormError error={error} fields={['title', 'description', 'status', 'assignee_id', 'due_at']} />
          <div className="actions">
            <button type="submit" className="primary" disabled={busy}>
              Save
            </button>
            <button type="button" onClick={props.onClose}>
              Cancel
            </button>
            <button type="button" className="danger push-right" onClick={props.onDelete}>
              Delete task
            </button>
          </div>
        </form>
      </div>
    </div>
  );
}

/** Keeps Tab and Shift+Tab inside the dialog. */
function trapFocus(e: KeyboardEvent, root: HTMLElement | null) {
  if (!root) return;
  const els = root.querySelectorAll<HTMLElement>('input, select, textarea, button, [tabindex]:not([tabindex="-1"])');
  if (els.length === 0) return;
  const first = els[0];
  const last = els[els.length - 1];
  if (e.shiftKey && document.activeElement === first) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && document.activeElement === last) {
    e.preventDefault();
    first.focus();
  }
}
