// Shared building blocks: form fields that show the API's field errors, loading, empty
// and error states, and a hook that loads data.
import { useCallback, useEffect, useId, useState, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes } from 'react';
import { ApiError } from './api/client';
import { Link } from './router';

/** The message for field from err, when err is a problem with field errors. */
export function fieldError(err: unknown, field: string): string | undefined {
  return err instanceof ApiError ? err.field(field) : undefined;
}

/** A form-level error: the problem's detail when no field error explains it. */
export function FormError({ error, fields = [] }: { error: unknown; fields?: string[] }) {
  if (!error) return null;
  if (error instanceof ApiError && error.fields.length > 0 && error.fields.every((f) => fields.includes(f.field))) return null;
  const text = error instanceof ApiError ? error.message : 'Something went wrong. Please try again.';
  return (
    <p className="form-error" role="alert">
      {text}
    </p>
  );
}

type FieldProps = {
  label: string;
  name: string;
  error?: unknown;
  hint?: ReactNode;
} & InputHTMLAttributes<HTMLInputElement>;

/** A labelled input; the API's message for name appears under it and marks it invalid. */
export function Field({ label, name, error, hint, ...input }: FieldProps) {
  const id = useId();
  const msg = fieldError(error, name);
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={name}
        aria-invalid={msg ? true : undefined}
        aria-describedby={msg ? id + '-err' : hint ? id + '-hint' : undefined}
        {...input}
      />
      {hint && !msg && (
        <small id={id + '-hint'} className="hint">
          {hint}
        </small>
      )}
      {msg && (
        <small id={id + '-err'} className="field-error">
          {msg}
        </small>
      )}
    </div>
  );
}

type SelectProps = { label: string; name: string; error?: unknown; children: ReactNode } & SelectHTMLAttributes<HTMLSelectElement>;

/** A labelled select with the API's message for name under it. */
export function SelectField({ label, name, error, children, ...select }: SelectProps) {
  const id = useId();
  const msg = fieldError(error, name);
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} name={name} aria-invalid={msg ? true : undefined} aria-describedby={msg ? id + '-err' : undefined} {...select}>
        {children}
      </select>
      {msg && (
        <small id={id + '-err'} className="field-error">
          {msg}
        </small>
      )}
    </div>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p className="loading" role="status">
      <span className="spinner" aria-hidden="true" /> {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

export function NotFound() {
  return (
    <section className="not-found" aria-labelledby="nf-title">
      <h1 id="nf-title">Not found</h1>
      <p>This page does not exist, or you do not have access to it.</p>
      <p>
        <Link to="/">Go to your organizations</Link>
      </p>
    </section>
  );
}

/** The state of a failed load: 404 is the not-found screen, others a retryable error. */
export function LoadError({ error, retry }: { error: unknown; retry?: () => void }) {
  if (error instanceof ApiError && error.status === 404) return <NotFound />;
  return (
    <div className="load-error" role="alert">
      <p>{error instanceof ApiError ? error.message : 'Could not load this page.'}</p>
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export interface Resource<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  setData: (update: T | ((prev: T | undefined) => T)) => void;
}

/** Loads data with load, again when deps change or on reload; aborts stale loads. */
export function useResource<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Resource<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ctrl = new AbortController();
    setLoading(true);
    setError(undefined);
    load(ctrl.signal).then(
      (d) => {
        if (ctrl.signal.aborted) return;
        setData(d);
        setLoading(false);
      },
      (err) => {
        if (ctrl.signal.aborted) return;
        setError(err);
        setLoading(false);
      },
    );
    return () => ctrl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload, setData: setData as Resource<T>['setData'] };
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' });
}

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleString();
}
