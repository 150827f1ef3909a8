//! Customer lifetime value over a horizon, discounted monthly.
use crate::{History, PurchaseModel, TimeUnit};

/// Discounted value of the purchases the model expects in the next `months`: month by month,
/// expected purchases in that month × `average_spend` / (1 + rate)^month, exactly as
/// `lifetimes`' `customer_lifetime_value` (a month is [`TimeUnit::per_month`] units).
pub fn customer_lifetime_value(
    model: &dyn PurchaseModel,
    history: &History,
    average_spend: f64,
    months: u32,
    monthly_discount_rate: f64,
    unit: TimeUnit,
) -> f64 {
    let factor = unit.per_month();
    let mut value = 0.0;
    let mut previous = 0.0;
    for month in 1..=months {
        let cumulative = model.conditional_expected_purchases(month as f64 * factor, history);
        value += average_spend * (cumulative - previous) / (1.0 + monthly_discount_rate).powi(month as i32);
        previous = cumulative;
    }
    value
}
