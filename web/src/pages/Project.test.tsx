import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeAPI, me, Providers } from '../test-helpers';
import { ProjectPage } from './Project';

const project = { id: 'p1', workspace_id: 'w1', name: 'Website', description: '', created_at: '2030-01-01T00:00:00Z', updated_at: '2030-01-01T00:00:00Z' };
const task = (id: string, title: string, status: string) => ({
  id,
  project_id: 'p1',
  title,
  description: '',
  status,
  assignee_id: null,
  due_at: null,
  created_at: '2030-01-01T00:00:00Z',
  updated_at: '2030-01-01T00:00:00Z',
});

function routes(patch: (body: Record<string, unknown>) => { status: number; body?: unknown }) {
  return fakeAPI({
    'GET /v1/me': () => ({ status: 200, body: me }),
    'GET /v1/orgs/acme/projects/p1': () => ({ status: 200, body: project }),
    'GET /v1/orgs/acme/workspaces/w1': () => ({ status: 200, body: { id: 'w1', name: 'Engineering' } }),
    'GET /v1/orgs/acme/members': () => ({ status: 200, body: { data: [], next_cursor: null } }),
    'GET /v1/orgs/acme/projects/p1/tasks': () => ({
      status: 200,
      body: { data: [task('t1', 'Write the copy', 'todo'), task('t2', 'Ship it', 'done')], next_cursor: null },
    }),
    'PATCH /v1/orgs/acme/tasks/t1': (c) => patch(c.body as Record<string, unknown>),
  });
}

const columnOf = (title: string) => screen.getByText(title).closest('section')?.getAttribute('data-status');

beforeEach(() => {
  document.cookie = 'coditect_csrf=csrf-123; path=/';
});
afterEach(() => vi.unstubAllGlobals());

describe('ProjectPage board', () => {
  it('moves a card with the keyboard and sends the new status with the CSRF token', async () => {
    const calls = routes((body) => ({ status: 200, body: { ...task('t1', 'Write the copy', 'todo'), ...body } }));
    render(<ProjectPage org="acme" id="p1" />, { wrapper: Providers });
    const card = (await screen.findByText('Write the copy')).closest('li')!;
    expect(columnOf('Write the copy')).toBe('todo');

    fireEvent.keyDown(card, { key: 'ArrowRight' });
    expect(columnOf('Write the copy')).toBe('in_progress');
    await waitFor(() => expect(calls.some((c) => c.method === 'PATCH')).toBe(true));
    const patch = calls.find((c) => c.method === 'PATCH')!;
    expect(patch.body).toEqual({ status: 'in_progress' });
    expect(patch.headers['X-CSRF-Token']).toBe('csrf-123');
    await waitFor(() => expect(columnOf('Write the copy')).toBe('in_progress'));
  });

  it('moves a card by drop onto another column', async () => {
    const calls = routes((body) => ({ status: 200, body: { ...task('t1', 'Write the copy', 'todo'), ...body } }));
    render(<ProjectPage org="acme" id="p1" />, { wrapper: Providers });
    await screen.findByText('Write the copy');
    const data = new Map<string, string>();
    const dataTransfer = { setData: (k: string, v: string) => data.set(k, v), getData: (k: string) => data.get(k) ?? '', effectAllowed: '', dropEffect: '' };
    fireEvent.dragStart(screen.getByText('Write the copy').closest('li')!, { dataTransfer });
    const done = screen.getByRole('heading', { name: /Done/ }).closest('section')!;
    fireEvent.dragOver(done, { dataTransfer });
    fireEvent.drop(done, { dataTransfer });
    expect(columnOf('Write the copy')).toBe('done');
    await waitFor(() => expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual({ status: 'done' }));
  });

  it('rolls an optimistic move back and shows a toast when the server refuses it', async () => {
    let refuse!: () => void;
    const refused = new Promise<void>((r) => (refuse = r));
    routes(() => {
      refuse();
      return { status: 403, body: { status: 403, code: 'forbidden', detail: 'your role cannot change tasks' } };
    });
    render(<ProjectPage org="acme" id="p1" />, { wrapper: Providers });
    await screen.findByText('Write the copy');
    const select = within(screen.getByText('Write the copy').closest('li')!).getByLabelText('Status of Write the copy');

    fireEvent.change(select, { target: { value: 'done' } });
    // At once, before the server answers:
    expect(columnOf('Write the copy')).toBe('done');
    await act(() => refused);
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('your role cannot change tasks');
    expect(columnOf('Write the copy')).toBe('todo');
    expect(columnOf('Ship it')).toBe('done');
  });
});
