// Test helpers: a fake API behind fetch, and the providers every screen needs.
import { vi } from 'vitest';
import type { ReactNode } from 'react';
import { SessionProvider } from './session';
import { ToastProvider } from './toast';

export interface Call {
  method: string;
  url: string;
  body: unknown;
  headers: Record<string, string>;
}

type Handler = (call: Call) => { status: number; body?: unknown } | Promise<{ status: number; body?: unknown }>;

/** Replaces fetch with routes keyed "METHOD /path" (query ignored); returns the calls made. */
export function fakeAPI(routes: Record<string, Handler>): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal('fetch', async (input: string, init: RequestInit = {}) => {
    const method = init.method ?? 'GET';
    const path = input.split('?')[0];
    const call: Call = {
      method,
      url: input,
      body: init.body ? JSON.parse(String(init.body)) : undefined,
      headers: (init.headers ?? {}) as Record<string, string>,
    };
    calls.push(call);
    const h = routes[`${method} ${path}`];
    const res = h ? await h(call) : { status: 404, body: { status: 404, code: 'not_found', detail: 'no such resource' } };
    const problem = res.status >= 400;
    return new Response(res.body === undefined ? null : JSON.stringify(res.body), {
      status: res.status,
      headers: { 'Content-Type': problem ? 'application/problem+json' : 'application/json' },
    });
  });
  return calls;
}

export function Providers({ children }: { children: ReactNode }) {
  return (
    <ToastProvider>
      <SessionProvider>{children}</SessionProvider>
    </ToastProvider>
  );
}

export const me = {
  account: { id: 'a0000000-0000-4000-8000-000000000001', email: 'ada@example.com', name: 'Ada', email_verified_at: null, created_at: '2030-01-01T00:00:00Z' },
  mfa_enabled: false,
  memberships: [{ organization: { id: 'o1', slug: 'acme', name: 'Acme' }, role: 'owner' }],
};
