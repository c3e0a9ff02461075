import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeAPI, Providers } from '../test-helpers';
import { Signup } from './Auth';

afterEach(() => vi.unstubAllGlobals());

describe('Signup', () => {
  it('shows the field errors of a problem+json answer next to their fields, and nothing else changes', async () => {
    const calls = fakeAPI({
      'GET /v1/me': () => ({ status: 401, body: { status: 401, code: 'auth.unauthenticated', detail: 'sign in' } }),
      'POST /v1/signup': () => ({
        status: 422,
        body: {
          type: 'https://coditect.dev/problems/invalid',
          title: 'Unprocessable Entity',
          status: 422,
          code: 'invalid',
          detail: 'some fields are invalid',
          errors: [
            { field: 'email', message: 'must be an email address' },
            { field: 'password', message: 'must be at least 10 characters' },
          ],
        },
      }),
    });
    render(<Signup />, { wrapper: Providers });
    fireEvent.change(screen.getByLabelText('Email'), { target: { value: 'nope' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'short' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create account' }));

    const email = screen.getByLabelText('Email');
    await waitFor(() => expect(email.getAttribute('aria-invalid')).toBe('true'));
    expect(document.getElementById(email.getAttribute('aria-describedby')!)?.textContent).toBe('must be an email address');
    const password = screen.getByLabelText('Password');
    expect(document.getElementById(password.getAttribute('aria-describedby')!)?.textContent).toBe('must be at least 10 characters');
    expect(screen.getByLabelText('Your name').getAttribute('aria-invalid')).toBeNull();
    // Every message has its field, so no form-level alert repeats them.
    expect(screen.queryByRole('alert')).toBeNull();
    expect(calls.find((c) => c.method === 'POST')?.body).toMatchObject({ email: 'nope', session: 'cookie' });
    expect(window.location.pathname).toBe('/');
  });

  it('shows a problem without field errors above the button', async () => {
    fakeAPI({
      'GET /v1/me': () => ({ status: 401 }),
      'POST /v1/signup': () => ({ status: 409, body: { status: 409, code: 'account.email_taken', detail: 'an account with this email exists' } }),
    });
    render(<Signup />, { wrapper: Providers });
    fireEvent.click(screen.getByRole('button', { name: 'Create account' }));
    expect((await screen.findByRole('alert')).textContent).toBe('an account with this email exists');
  });
});
