//! Deterministic sample data for Regulars.
//!
//! * [`demo_stores`] / [`demo_dataset`]: three small shops (India, Armenia, New York) with two
//!   years of realistic, multilingual customers and orders — names and notes in English, Hindi,
//!   Telugu and Armenian, consent records, guests, prospects, marketplace orders and refunds.
//! * [`demo_referrals`]: who referred whom in a demo store, the signals of every checkout and
//!   the cases the referral program's fraud rules, return window and partners meet.
//! * [`synthetic_orders`] / [`write_transactions_csv`]: plain ASCII volume data for benchmarks,
//!   streamed so that millions of records never sit in memory.
//!
//! Everything is driven by a seeded ChaCha8 generator: the same seed gives the same output on
//! every platform and every run.

mod customers;
mod demo;
mod orders;
mod people;
mod pick;
mod referrals;
mod region;
mod shop;
mod synthetic;

pub use demo::{demo_dataset, demo_spend, demo_stores, DemoData, DemoStoreSpec, MonthlySpend};
pub use referrals::{
    demo_referrals, Cases, CodeVia, DemoPartner, DemoReferrals, Landing, ReferredOrder, MAX_FRIENDS,
};
pub use synthetic::{synthetic_orders, write_transactions_csv};
