//! Customer acquisition cost (CAC) per channel, against the value those customers bring.
//!
//! For a channel with `spend`, `new_customers` acquired and `value_per_customer` (historic
//! revenue or a predicted CLV per acquired customer, over `months` months), with gross margin `g`
//! (1 when not given):
//!
//! | figure | definition | `None` when |
//! |---|---|---|
//! | CAC | spend ÷ new customers | no new customers |
//! | LTV | value per customer × g | — |
//! | LTV : CAC | LTV ÷ CAC | CAC is `None` or 0 |
//! | months to recover CAC | CAC ÷ monthly margin per customer, where monthly margin = LTV ÷ months | CAC is `None`, months unknown or ≤ 0, or LTV ≤ 0 |

use serde::{Deserialize, Serialize};

/// What one acquisition channel cost and brought.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelInput {
    pub channel: String,
    /// Acquisition spend in the period.
    pub spend: f64,
    /// Customers the channel acquired in the period.
    pub new_customers: u64,
    /// Revenue (or predicted CLV) per acquired customer.
    pub value_per_customer: f64,
    /// Months `value_per_customer` covers (e.g. 12 for a 12-month CLV); needed for the payback.
    pub months: Option<f64>,
    /// Gross margin as a fraction (0.4 = 40 %); `None` counts revenue as margin.
    pub gross_margin: Option<f64>,
}

/// A channel's unit economics (see the module table).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChannelEconomics {
    pub channel: String,
    pub spend: f64,
    pub new_customers: u64,
    pub cac: Option<f64>,
    /// Margin per acquired customer.
    pub ltv: f64,
    pub ltv_to_cac: Option<f64>,
    pub months_to_recover: Option<f64>,
}

/// One channel's CAC, LTV, LTV:CAC and payback (see the module table).
pub fn channel_economics(input: &ChannelInput) -> ChannelEconomics {
    let cac = (input.new_customers > 0).then(|| input.spend / input.new_customers as f64);
    let ltv = input.value_per_customer * input.gross_margin.unwrap_or(1.0);
    let ltv_to_cac = cac.filter(|c| *c > 0.0).map(|c| ltv / c);
    let monthly_margin = input
        .months
        .filter(|m| *m > 0.0)
        .map(|m| ltv / m)
        .filter(|m| *m > 0.0);
    let months_to_recover = match (cac, monthly_margin) {
        (Some(c), Some(margin)) => Some(c / margin),
        _ => None,
    };
    ChannelEconomics {
        channel: input.channel.clone(),
        spend: input.spend,
        new_customers: input.new_customers,
        cac,
        ltv,
        ltv_to_cac,
        months_to_recover,
    }
}
