-- Referral lookups that must not walk the store: an order's referral and commissions (every
-- order batch asks), and an advocate's rewarded referrals (caps and milestones, per referral
-- settled).
DROP INDEX referrals_order;
CREATE INDEX referrals_order ON referrals(store_id, order_id);
DROP INDEX commissions_order;
CREATE INDEX commissions_order ON commissions(store_id, order_id);
CREATE INDEX referrals_advocate_status ON referrals(store_id, advocate_id, status, decided_at);
