// The API client: JSON over fetch with the browser session cookie, the CSRF header on
// unsafe methods, and problem+json answers turned into ApiError. Types come from
// schema.d.ts, generated from the server's OpenAPI document.
import type { components } from './schema';

type S = components['schemas'];
export type Account = S['Account'];
export type Me = S['Me'];
export type MyMembership = S['MyMembership'];
export type Organization = S['Organization'];
export type Workspace = S['Workspace'];
export type Project = S['Project'];
export type Task = S['Task'];
export type TaskStatus = S['TaskStatus'];
export type Role = S['Role'];
export type Membership = S['Membership'];
export type Invitation = S['Invitation'];
export type PendingInvitation = S['PendingInvitation'];
export type APIKey = S['APIKey'];
export type AuditLogEntry = S['AuditLogEntry'];
export type Session = S['Session'];
export type MFAEnrollment = S['MFAEnrollment'];
export type UsageReport = S['UsageReport'];
export type FieldError = S['FieldError'];
export type Page<T> = { data: T[]; next_cursor?: string | null };

export const TASK_STATUSES: TaskStatus[] = ['todo', 'in_progress', 'done', 'canceled'];
export const STATUS_LABEL: Record<TaskStatus, string> = {
  todo: 'To do',
  in_progress: 'In progress',
  done: 'Done',
  canceled: 'Canceled',
};
export const ROLES: Role[] = ['viewer', 'member', 'admin', 'owner'];

/** An answer other than 2xx: the problem+json body's fields, when there was one. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: FieldError[];
  readonly requestId: string;

  constructor(status: number, code: string, message: string, fields: FieldError[] = [], requestId = '') {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.requestId = requestId;
  }

  /** The message for one field (as named by the API, e.g. "title"), if any. */
  field(name: string): string | undefined {
    return this.fields.find((f) => f.field === name)?.message;
  }
}

/** Whether err is an ApiError with one of the statuses. */
export function isStatus(err: unknown, ...statuses: number[]): err is ApiError {
  return err instanceof ApiError && statuses.includes(err.status);
}

/** The coditect_csrf cookie's value: sent back as X-CSRF-Token on unsafe requests. */
export function csrfToken(): string {
  const m = document.cookie.match(/(?:^|;\s*)coditect_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : '';
}

type Query = Record<string, string | number | undefined | null>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
}

/** Sends one request and decodes its JSON answer (undefined for 204/202 without a body). */
export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  let url = path;
  if (opts.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query)) {
      if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    }
    const s = q.toString();
    if (s) url += '?' + s;
  }
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') {
    const token = csrfToken();
    if (token) headers['X-CSRF-Token'] = token;
  }
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: 'same-origin',
      signal: opts.signal,
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'The server could not be reached. Check your connection and try again.');
  }
  const text = await res.text();
  let body: unknown = undefined;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
  }
  if (!res.ok) {
    const p = (body ?? {}) as { code?: string; detail?: string; title?: string; errors?: FieldError[]; request_id?: string };
    const message = p.detail || p.title || `Request failed (${res.status})`;
    throw new ApiError(res.status, p.code ?? String(res.status), message, p.errors ?? [], p.request_id ?? '');
  }
  return body as T;
}

/** The organization-scoped path /v1/orgs/{org}/… */
export function orgPath(org: string, rest = ''): string {
  return `/v1/orgs/${encodeURIComponent(org)}${rest}`;
}

export const api = {
  get: <T>(path: string, query?: Query, signal?: AbortSignal) => request<T>('GET', path, { query, signal }),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, { body: body ?? {} }),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, { body }),
  del: (path: string) => request<void>('DELETE', path),
};
