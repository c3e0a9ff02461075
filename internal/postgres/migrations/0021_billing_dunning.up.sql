-- Dunning order (issue 7 review): dunning_at is the creation time, at Stripe, of the
-- newest event that changed the subscription's payment standing (an invoice paid or
-- failed, or a subscription event saying active/trialing). An invoice event older than
-- it arrived late and is ignored, so a retried failure cannot undo a later payment.
ALTER TABLE subscriptions ADD COLUMN dunning_at timestamptz;
