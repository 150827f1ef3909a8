//! The HTTP surface, end to end: a real server on 127.0.0.1:0 over a fresh database per test.

mod helpers;
mod staff;

mod analytics;
mod api_orders;
mod coupons;
mod customer_analytics;
mod customers;
mod dashboard;
mod idempotency;
mod imports;
mod isolation;
mod loyalty;
mod loyalty_dashboard;
mod loyalty_page;
mod openapi;
mod referral_page;
mod referrals;
mod referrals_dashboard;
mod settings;
mod webhook_endpoints;
mod webhooks;
