// Billing: plan, upgrade through Stripe Checkout, the customer portal, invoices and
// usage. Answers 404 or 503 billing.not_configured while billing is not set up.
import { useState } from 'react';
import { api, isStatus, orgPath, type UsageReport } from '../api/client';
import { useSession } from '../session';
import { useToast } from '../toast';
import { Empty, LoadError, Loading, formatDate, useResource } from '../ui';

interface Plan {
  id?: string;
  code?: string;
  name?: string;
  price?: string | number;
  amount?: number;
  currency?: string;
  interval?: string;
}
interface Subscription {
  plan?: string | Plan;
  status?: string;
  current_period_end?: string | null;
  cancel_at_period_end?: boolean;
}
interface Invoice {
  id: string;
  number?: string;
  status?: string;
  amount_due?: number;
  total?: number;
  currency?: string;
  created_at?: string;
  created?: string;
  hosted_invoice_url?: string;
  url?: string;
}
type List<T> = { data: T[] } | T[];

const items = <T,>(l: List<T> | undefined): T[] => (Array.isArray(l) ? l : (l?.data ?? []));
const planKey = (p: Plan) => p.code ?? p.id ?? p.name ?? '';
const money = (cents: number | undefined, currency = 'usd') =>
  cents === undefined ? '—' : new Intl.NumberFormat(undefined, { style: 'currency', currency: currency.toUpperCase() }).format(cents / 100);

export function Billing({ org }: { org: string }) {
  const toast = useToast();
  const { me } = useSession();
  const owner = me?.memberships.some((m) => (m.organization.slug === org || m.organization.id === org) && m.role === 'owner');
  const [redirecting, setRedirecting] = useState(false);
  const billing = useResource(
    async (signal) => {
      const [plans, subscription, invoices] = await Promise.all([
        api.get<List<Plan>>(orgPath(org, '/billing/plans'), undefined, signal),
        api.get<Subscription>(orgPath(org, '/billing/subscription'), undefined, signal).catch((err) => {
          if (isStatus(err, 404)) return null; // no subscription yet
          throw err;
        }),
        api.get<List<Invoice>>(orgPath(org, '/billing/invoices'), undefined, signal),
      ]);
      return { plans: items(plans), subscription, invoices: items(invoices) };
    },
    [org],
  );
  const usage = useResource((signal) => api.get<UsageReport>(orgPath(org, '/billing/usage'), undefined, signal), [org]);
  const go = async (path: string, body?: unknown) => {
    setRedirecting(true);
    try {
      const { url } = await api.post<{ url: string }>(orgPath(org, path), body);
      window.location.assign(url);
    } catch (err) {
      setRedirecting(false);
      toast.error(err, 'Could not open Stripe');
    }
  };
  const notConfigured = isStatus(billing.error, 404, 503);
  const sub = billing.data?.subscription;
  const currentPlan = sub ? (typeof sub.plan === 'string' ? sub.plan : sub.plan && planKey(sub.plan)) : undefined;
  return (
    <section>
      <h1>Billing</h1>
      {billing.loading ? (
        <Loading what="Loading billing" />
      ) : notConfigured ? (
        <Empty>
          <strong>Billing is not configured</strong> on this CODITECT installation. Every organization uses it without a plan
          limit until an operator connects Stripe.
        </Empty>
      ) : billing.error ? (
        <LoadError error={billing.error} retry={billing.reload} />
      ) : (
        <>
          <div className="card">
            <h2>Plan</h2>
            <p>
              {currentPlan ? (
                <>
                  Current plan: <strong>{currentPlan}</strong>
                  {sub?.status && <> ({sub.status})</>}
                  {sub?.current_period_end && <> · renews {formatDate(sub.current_period_end)}</>}
                </>
              ) : (
                'No paid plan yet.'
              )}
            </p>
            {owner && sub && (
              <button type="button" disabled={redirecting} onClick={() => go('/billing/portal')}>
                Manage billing in the customer portal
              </button>
            )}
          </div>
          <ul className="cards" aria-label="Plans">
            {billing.data!.plans.map((p) => (
              <li key={planKey(p)} className="card">
                <h3>{p.name ?? planKey(p)}</h3>
                <p>
                  {typeof p.price === 'string' ? p.price : money(p.amount ?? (typeof p.price === 'number' ? p.price : undefined), p.currency)}
                  {p.interval && ` / ${p.interval}`}
                </p>
                {owner && planKey(p) !== currentPlan && (
                  <button type="button" className="primary" disabled={redirecting} onClick={() => go('/billing/checkout', { plan: planKey(p) })}>
                    Upgrade to {p.name ?? planKey(p)}
                  </button>
                )}
              </li>
            ))}
          </ul>
          <h2>Invoices</h2>
          {billing.data!.invoices.length === 0 ? (
            <Empty>No invoices yet.</Empty>
          ) : (
            <ul className="rows" aria-label="Invoices">
              {billing.data!.invoices.map((i) => (
                <li key={i.id}>
                  <span>
                    {i.number ?? i.id} · {formatDate(i.created_at ?? i.created)} · {money(i.total ?? i.amount_due, i.currency)} · {i.status}
                  </span>
                  {(i.hosted_invoice_url ?? i.url) && (
                    <a href={i.hosted_invoice_url ?? i.url} rel="noreferrer" target="_blank">
                      View<span className="sr-only"> invoice {i.number ?? i.id}</span>
                    </a>
                  )}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
      <h2>Usage</h2>
      {usage.loading ? (
        <Loading what="Loading usage" />
      ) : usage.error ? (
        <LoadError error={usage.error} retry={usage.reload} />
      ) : usage.data!.data.length === 0 ? (
        <Empty>No API calls recorded yet.</Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">API calls per day</caption>
            <thead>
              <tr>
                <th scope="col">Day (UTC)</th>
                <th scope="col">API calls</th>
              </tr>
            </thead>
            <tbody>
              {usage.data!.data.map((d) => (
                <tr key={d.date}>
                  <td>{d.date}</td>
                  <td>{d.api_calls.toLocaleString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
