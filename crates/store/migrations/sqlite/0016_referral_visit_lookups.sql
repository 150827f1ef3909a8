-- Bursts count the share-link landings of one IP address or device around a referral's
-- arrival: read them by address or device, not by walking the store's visits.
CREATE INDEX referral_visits_ip ON referral_visits(store_id, ip_hash, visited_at);
CREATE INDEX referral_visits_device ON referral_visits(store_id, device_hash, visited_at);
