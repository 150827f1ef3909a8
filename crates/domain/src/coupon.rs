//! Coupon rules: what a code may look like, how codes are generated from a pattern, and what
//! a coupon is worth against a cart. Pure: randomness comes from the caller, usage counts from
//! storage.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::{Cart, CartLine, CustomerId, Discount, FieldError, Timestamp};

/// The default alphabet of generated codes: upper-case letters and digits without the
/// look-alikes 0/O, 1/I and L, so a code read aloud or off a receipt is typed right.
pub const DEFAULT_CHARSET: &str = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// Random characters of a generated code when neither a pattern nor a length is given.
pub const DEFAULT_CODE_LENGTH: usize = 8;

const PATTERN_HELP: &str =
    "'#' is a digit, '?' a letter, '*' either; letters, digits, '-' and '_' stay as written";

pub const MIN_CODE_CHARS: usize = 3;
pub const MAX_CODE_CHARS: usize = 64;

/// A code as stored and compared: trimmed and upper-cased (codes compare case-insensitively),
/// made of ASCII letters, digits, `-` and `_`.
pub fn normalize_code(raw: &str) -> Result<String, FieldError> {
    let code = raw.trim().to_ascii_uppercase();
    let len = code.chars().count();
    if !(MIN_CODE_CHARS..=MAX_CODE_CHARS).contains(&len) {
        return Err(FieldError::new(
            "code",
            "invalid_code",
            format!("a code has {MIN_CODE_CHARS} to {MAX_CODE_CHARS} characters; {raw:?} has {len}"),
        ));
    }
    if let Some(bad) = code
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(FieldError::new(
            "code",
            "invalid_code",
            format!("{bad:?} cannot be part of a code: use letters A-Z, digits, '-' and '_'"),
        ));
    }
    Ok(code)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    Literal(char),
    Digit,
    Letter,
    Any,
}

/// How codes of a batch are made: an optional prefix, then either a pattern (`#` a digit, `?`
/// a letter, `*` either, anything else kept as written) or a number of random characters,
/// drawn from a charset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeGenerator {
    slots: Vec<Slot>,
    digits: Vec<char>,
    letters: Vec<char>,
    any: Vec<char>,
}

impl CodeGenerator {
    /// Checks the parts against each other: a pattern asking for digits needs a charset with
    /// digits, and the whole code must be a valid code.
    pub fn new(
        prefix: Option<&str>,
        pattern: Option<&str>,
        length: Option<usize>,
        charset: Option<&str>,
    ) -> Result<CodeGenerator, FieldError> {
        let charset = charset
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .unwrap_or(DEFAULT_CHARSET);
        let mut any: Vec<char> = Vec::new();
        for c in charset.chars().map(|c| c.to_ascii_uppercase()) {
            if !c.is_ascii_alphanumeric() {
                return Err(FieldError::new(
                    "charset",
                    "invalid_charset",
                    format!("{c:?} cannot be part of a code: a charset holds letters A-Z and digits"),
                ));
            }
            if !any.contains(&c) {
                any.push(c);
            }
        }
        if any.len() < 2 {
            return Err(FieldError::new(
                "charset",
                "invalid_charset",
                "a charset needs at least two different characters",
            ));
        }
        let digits: Vec<char> = any.iter().copied().filter(char::is_ascii_digit).collect();
        let letters: Vec<char> = any.iter().copied().filter(char::is_ascii_alphabetic).collect();

        let mut slots: Vec<Slot> = Vec::new();
        if let Some(prefix) = prefix.map(str::trim).filter(|p| !p.is_empty()) {
            for c in prefix.chars() {
                if !(c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                    return Err(FieldError::new(
                        "prefix",
                        "invalid_prefix",
                        format!("{c:?} cannot be part of a code: use letters A-Z, digits, '-' and '_'"),
                    ));
                }
                slots.push(Slot::Literal(c.to_ascii_uppercase()));
            }
        }
        match (pattern.map(str::trim).filter(|p| !p.is_empty()), length) {
            (Some(_), Some(_)) => {
                return Err(FieldError::new(
                    "length",
                    "pattern_and_length",
                    "give either a pattern or a length, not both",
                ))
            }
            (Some(pattern), None) => {
                for c in pattern.chars() {
                    let slot = match c {
                        '#' => Slot::Digit,
                        '?' => Slot::Letter,
                        '*' => Slot::Any,
                        c if c.is_ascii_alphanumeric() || c == '-' || c == '_' => {
                            Slot::Literal(c.to_ascii_uppercase())
                        }
                        c => {
                            return Err(FieldError::new(
                                "pattern",
                                "invalid_pattern",
                                format!("{c:?} cannot be part of a pattern: {PATTERN_HELP}"),
                            ))
                        }
                    };
                    slots.push(slot);
                }
                if slots.contains(&Slot::Digit) && digits.is_empty() {
                    return Err(FieldError::new(
                        "pattern",
                        "invalid_pattern",
                        "the pattern asks for digits ('#') but the charset has none",
                    ));
                }
                if slots.contains(&Slot::Letter) && letters.is_empty() {
                    return Err(FieldError::new(
                        "pattern",
                        "invalid_pattern",
                        "the pattern asks for letters ('?') but the charset has none",
                    ));
                }
            }
            (None, length) => {
                let n = length.unwrap_or(DEFAULT_CODE_LENGTH);
                if !(4..=32).contains(&n) {
                    return Err(FieldError::new(
                        "length",
                        "invalid_length",
                        format!("a code has 4 to 32 random characters, not {n}"),
                    ));
                }
                slots.extend(std::iter::repeat_n(Slot::Any, n));
            }
        }
        let generator = CodeGenerator {
            slots,
            digits,
            letters,
            any,
        };
        if generator.slots.len() > MAX_CODE_CHARS {
            return Err(FieldError::new(
                "pattern",
                "invalid_pattern",
                format!("codes may have at most {MAX_CODE_CHARS} characters"),
            ));
        }
        if generator.capacity() < 2.0 {
            return Err(FieldError::new(
                "pattern",
                "invalid_pattern",
                "the pattern has no random characters: every code would be the same",
            ));
        }
        Ok(generator)
    }

    /// How many different codes this generator can make.
    pub fn capacity(&self) -> f64 {
        self.slots
            .iter()
            .map(|s| match s {
                Slot::Literal(_) => 1.0,
                Slot::Digit => self.digits.len() as f64,
                Slot::Letter => self.letters.len() as f64,
                Slot::Any => self.any.len() as f64,
            })
            .product()
    }

    /// Refuses batches that would crowd the code space: beyond a tenth of it, codes become
    /// guessable from each other and drawing a fresh one takes ever more tries.
    pub fn check_room(&self, count: usize) -> Result<(), FieldError> {
        if (count as f64) * 10.0 > self.capacity() {
            return Err(FieldError::new(
                "pattern",
                "pattern_too_small",
                format!(
                    "this pattern makes {} different codes; {count} codes need at least ten times as many \
                     (add random characters)",
                    self.capacity()
                ),
            ));
        }
        Ok(())
    }

    /// One code. `pick(n)` returns a uniformly random index below `n`.
    pub fn generate(&self, pick: &mut impl FnMut(usize) -> usize) -> String {
        let mut code = String::with_capacity(self.slots.len());
        for slot in &self.slots {
            let from = match slot {
                Slot::Literal(c) => {
                    code.push(*c);
                    continue;
                }
                Slot::Digit => &self.digits,
                Slot::Letter => &self.letters,
                Slot::Any => &self.any,
            };
            code.push(from[pick(from.len()) % from.len()]);
        }
        code
    }

    /// Whether `code` is one this generator could have made.
    pub fn matches(&self, code: &str) -> bool {
        let chars: Vec<char> = code.chars().collect();
        chars.len() == self.slots.len()
            && chars.iter().zip(&self.slots).all(|(c, slot)| match slot {
                Slot::Literal(l) => c == l,
                Slot::Digit => self.digits.contains(c),
                Slot::Letter => self.letters.contains(c),
                Slot::Any => self.any.contains(c),
            })
    }
}

/// Which cart lines a coupon applies to. Empty lists: every line. Otherwise a line is
/// eligible when its product id, SKU or category is named (SKUs and categories compare
/// case-insensitively).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponScope {
    #[serde(default)]
    pub product_ids: Vec<String>,
    #[serde(default)]
    pub skus: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
}

impl CouponScope {
    pub fn is_everything(&self) -> bool {
        self.product_ids.is_empty() && self.skus.is_empty() && self.categories.is_empty()
    }

    pub fn covers(&self, line: &CartLine) -> bool {
        if self.is_everything() {
            return true;
        }
        let same = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
        line.product_id
            .as_deref()
            .is_some_and(|p| self.product_ids.iter().any(|x| x.trim() == p.trim()))
            || line
                .sku
                .as_deref()
                .is_some_and(|s| self.skus.iter().any(|x| same(x, s)))
            || line
                .category
                .as_deref()
                .is_some_and(|c| self.categories.iter().any(|x| same(x, c)))
    }

    /// Trims entries and drops empty ones and repeats.
    pub fn cleaned(self) -> CouponScope {
        fn clean(list: Vec<String>) -> Vec<String> {
            let mut seen = HashSet::new();
            list.into_iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty() && seen.insert(s.to_ascii_lowercase()))
                .collect()
        }
        CouponScope {
            product_ids: clean(self.product_ids),
            skus: clean(self.skus),
            categories: clean(self.categories),
        }
    }
}

/// Everything that decides whether a coupon applies, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponRules {
    pub discount: Discount,
    pub starts_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    /// Minor units the eligible lines must add up to before any discount.
    pub minimum_spend: i64,
    pub scope: CouponScope,
    /// Only this customer may use it; `None`: anyone.
    pub customer_id: Option<CustomerId>,
    /// Uses overall; `None`: unlimited.
    pub usage_limit: Option<i64>,
    pub per_customer_limit: Option<i64>,
    /// Stackable coupons combine freely; at most one exclusive coupon applies to a cart.
    pub stackable: bool,
    /// Only a customer's first order may use it (the friend's side of a referral). An
    /// anonymous checkout cannot be checked and is accepted.
    pub first_order_only: bool,
}

/// Shared checks of a discount, for batches, imports and single issues.
pub fn check_discount(discount: &Discount) -> Result<(), FieldError> {
    match discount {
        Discount::Fixed { amount } if *amount <= 0 => Err(FieldError::new(
            "discount.amount",
            "invalid_amount",
            "a fixed discount is more than zero",
        )),
        Discount::Percent { basis_points } if !(1..=10_000).contains(basis_points) => Err(FieldError::new(
            "discount.basis_points",
            "invalid_percent",
            "a percentage is 1 to 10,000 basis points (0.01 % to 100 %)",
        )),
        Discount::FreeProduct { sku } if sku.trim().is_empty() => Err(FieldError::new(
            "discount.sku",
            "missing_field",
            "a free product names its SKU",
        )),
        Discount::Gift { description } if description.trim().is_empty() => Err(FieldError::new(
            "discount.description",
            "missing_field",
            "a gift is described",
        )),
        _ => Ok(()),
    }
}

impl CouponRules {
    /// Refuses rules no coupon could sensibly have; names the field.
    pub fn validate(&self) -> Result<(), FieldError> {
        check_discount(&self.discount)?;
        if self.minimum_spend < 0 {
            return Err(FieldError::new(
                "minimum_spend",
                "negative_amount",
                "a minimum spend cannot be negative",
            ));
        }
        if let (Some(start), Some(end)) = (self.starts_at, self.expires_at) {
            if end <= start {
                return Err(FieldError::new(
                    "expires_at",
                    "expires_before_start",
                    "a coupon expires after it starts",
                ));
            }
        }
        for (field, limit) in [
            ("usage_limit", self.usage_limit),
            ("per_customer_limit", self.per_customer_limit),
        ] {
            if limit.is_some_and(|l| l < 1) {
                return Err(FieldError::new(field, "invalid_limit", "a limit is at least 1"));
            }
        }
        Ok(())
    }
}

/// Why a coupon does not apply. [`Refusal::code`] is stable: shops map it to their words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    UnknownCoupon,
    CouponNotStarted,
    CouponExpired,
    MinimumSpendNotMet,
    UsageLimitReached,
    CustomerLimitReached,
    /// Bound to another customer, or bound and nobody signed in.
    NotForThisCustomer,
    /// A per-customer limit cannot be kept for an anonymous checkout.
    CustomerRequired,
    NotStackable,
    NoEligibleItems,
    DuplicateCode,
    /// A first-orders-only coupon, and the customer has ordered before.
    NotFirstOrder,
}

impl Refusal {
    pub const ALL: [Refusal; 12] = [
        Refusal::UnknownCoupon,
        Refusal::CouponNotStarted,
        Refusal::CouponExpired,
        Refusal::MinimumSpendNotMet,
        Refusal::UsageLimitReached,
        Refusal::CustomerLimitReached,
        Refusal::NotForThisCustomer,
        Refusal::CustomerRequired,
        Refusal::NotStackable,
        Refusal::NoEligibleItems,
        Refusal::DuplicateCode,
        Refusal::NotFirstOrder,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Refusal::UnknownCoupon => "unknown_coupon",
            Refusal::CouponNotStarted => "coupon_not_started",
            Refusal::CouponExpired => "coupon_expired",
            Refusal::MinimumSpendNotMet => "minimum_spend_not_met",
            Refusal::UsageLimitReached => "usage_limit_reached",
            Refusal::CustomerLimitReached => "customer_limit_reached",
            Refusal::NotForThisCustomer => "not_for_this_customer",
            Refusal::CustomerRequired => "customer_required",
            Refusal::NotStackable => "not_stackable",
            Refusal::NoEligibleItems => "no_eligible_items",
            Refusal::DuplicateCode => "duplicate_code",
            Refusal::NotFirstOrder => "not_first_order",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::UnknownCoupon => "no coupon with this code in this store",
            Refusal::CouponNotStarted => "this coupon is not valid yet",
            Refusal::CouponExpired => "this coupon has expired",
            Refusal::MinimumSpendNotMet => "the eligible items do not reach the coupon's minimum spend",
            Refusal::UsageLimitReached => "this coupon has been used as often as it may be",
            Refusal::CustomerLimitReached => "this customer has used this coupon as often as they may",
            Refusal::NotForThisCustomer => "this coupon belongs to another customer",
            Refusal::CustomerRequired => "this coupon needs a signed-in customer",
            Refusal::NotStackable => "another exclusive coupon already applies to this cart",
            Refusal::NoEligibleItems => "nothing in the cart is covered by this coupon",
            Refusal::DuplicateCode => "this code was given twice",
            Refusal::NotFirstOrder => "this coupon is for a customer's first order",
        }
    }
}

/// How often a coupon is taken now: redemptions not rolled back plus unexpired reservations,
/// overall and by the customer at hand; and how often the customer at hand ordered before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub overall: i64,
    pub by_customer: i64,
    /// The customer's earlier orders in the store that were not cancelled (0 for nobody).
    pub customer_orders: i64,
}

/// The checks of one coupon that do not depend on the other coupons of the cart.
pub fn check_coupon(
    rules: &CouponRules,
    customer: Option<CustomerId>,
    now: Timestamp,
    usage: Usage,
) -> Result<(), Refusal> {
    if rules.expires_at.is_some_and(|end| now >= end) {
        return Err(Refusal::CouponExpired);
    }
    if rules.starts_at.is_some_and(|start| now < start) {
        return Err(Refusal::CouponNotStarted);
    }
    if let Some(owner) = rules.customer_id {
        if customer != Some(owner) {
            return Err(Refusal::NotForThisCustomer);
        }
    }
    if rules.usage_limit.is_some_and(|limit| usage.overall >= limit) {
        return Err(Refusal::UsageLimitReached);
    }
    if let Some(limit) = rules.per_customer_limit {
        if customer.is_none() {
            return Err(Refusal::CustomerRequired);
        }
        if usage.by_customer >= limit {
            return Err(Refusal::CustomerLimitReached);
        }
    }
    // An anonymous checkout cannot be checked: the referral attribution turns existing
    // customers away later.
    if rules.first_order_only && customer.is_some() && usage.customer_orders > 0 {
        return Err(Refusal::NotFirstOrder);
    }
    Ok(())
}

/// One code's place in a cart: its normalised code, and its rules and usage when the store
/// knows it.
pub struct CodeInCart<'a> {
    pub code: String,
    pub coupon: Option<(&'a CouponRules, Usage)>,
}

/// What each code is worth against `cart`, in the order given: a discount in minor units, or
/// why it does not apply. Coupons apply one after the other to what earlier ones left, so the
/// discounts never add up to more than the cart (lines plus shipping).
pub fn evaluate_cart(
    cart: &Cart,
    customer: Option<CustomerId>,
    now: Timestamp,
    codes: &[CodeInCart<'_>],
) -> Vec<Result<i64, Refusal>> {
    let mut left: Vec<i64> = cart.lines.iter().map(CartLine::amount).collect();
    let mut shipping_left = cart.shipping;
    let mut seen: HashSet<&str> = HashSet::new();
    let mut exclusive_taken = false;
    codes
        .iter()
        .map(|entry| {
            if !seen.insert(entry.code.as_str()) {
                return Err(Refusal::DuplicateCode);
            }
            let (rules, usage) = entry.coupon.ok_or(Refusal::UnknownCoupon)?;
            check_coupon(rules, customer, now, usage)?;
            let eligible: Vec<usize> = (0..cart.lines.len())
                .filter(|&i| rules.scope.covers(&cart.lines[i]))
                .collect();
            if eligible.is_empty() {
                return Err(Refusal::NoEligibleItems);
            }
            let eligible_spend: i64 = eligible.iter().map(|&i| cart.lines[i].amount()).sum();
            if eligible_spend < rules.minimum_spend {
                return Err(Refusal::MinimumSpendNotMet);
            }
            if !rules.stackable && exclusive_taken {
                return Err(Refusal::NotStackable);
            }
            let amount = match &rules.discount {
                Discount::Fixed { amount } => take(&mut left, &eligible, *amount),
                Discount::Percent { basis_points } => {
                    let base: i64 = eligible.iter().map(|&i| left[i]).sum();
                    // Rounded down: a coupon never gives more than it says.
                    let share = (i128::from(base) * i128::from(*basis_points) / 10_000) as i64;
                    take(&mut left, &eligible, share)
                }
                Discount::FreeShipping => std::mem::take(&mut shipping_left),
                Discount::FreeProduct { sku } => {
                    let line = eligible.iter().copied().find(|&i| {
                        cart.lines[i]
                            .sku
                            .as_deref()
                            .is_some_and(|s| s.trim().eq_ignore_ascii_case(sku.trim()))
                    });
                    let Some(i) = line else {
                        return Err(Refusal::NoEligibleItems);
                    };
                    take(&mut left, &[i], cart.lines[i].unit_price)
                }
                Discount::Gift { .. } => 0,
            };
            if !rules.stackable {
                exclusive_taken = true;
            }
            Ok(amount)
        })
        .collect()
}

/// Takes up to `amount` from the eligible lines, in cart order; returns what was taken.
fn take(left: &mut [i64], eligible: &[usize], amount: i64) -> i64 {
    let mut wanted = amount.max(0);
    let mut taken = 0;
    for &i in eligible {
        let t = wanted.min(left[i]);
        left[i] -= t;
        wanted -= t;
        taken += t;
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    /// A small deterministic generator (xorshift) so tests need no RNG crate.
    fn picker(seed: u64) -> impl FnMut(usize) -> usize {
        let mut state = seed.max(1);
        move |n| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        }
    }

    fn line(sku: &str, category: &str, quantity: i64, unit_price: i64) -> CartLine {
        CartLine {
            product_id: Some(format!("p-{sku}")),
            sku: Some(sku.into()),
            category: Some(category.into()),
            tags: vec![],
            quantity,
            unit_price,
        }
    }

    fn cart() -> Cart {
        Cart {
            currency: Currency::INR,
            lines: vec![line("TEA", "Tea", 2, 50_000), line("MUG", "Kitchen", 1, 30_000)],
            shipping: 9_900,
        }
    }

    fn rules(discount: Discount) -> CouponRules {
        CouponRules {
            discount,
            starts_at: None,
            expires_at: None,
            minimum_spend: 0,
            scope: CouponScope::default(),
            customer_id: None,
            usage_limit: None,
            per_customer_limit: None,
            stackable: true,
            first_order_only: false,
        }
    }

    fn one(r: &CouponRules, usage: Usage, customer: Option<CustomerId>) -> Result<i64, Refusal> {
        evaluate_cart(
            &cart(),
            customer,
            Timestamp(1_000_000),
            &[CodeInCart {
                code: "X".into(),
                coupon: Some((r, usage)),
            }],
        )[0]
    }

    #[test]
    fn patterns_generate_matching_codes_without_look_alikes() {
        let g = CodeGenerator::new(None, Some("diwali-####-????"), None, None).unwrap();
        let mut pick = picker(7);
        let mut seen = HashSet::new();
        for _ in 0..2_000 {
            let code = g.generate(&mut pick);
            assert!(g.matches(&code), "{code}");
            assert!(code.starts_with("DIWALI-"));
            assert_eq!(normalize_code(&code).unwrap(), code);
            let random: String = code[7..].chars().filter(|c| *c != '-').collect();
            assert!(!random.contains(['0', 'O', '1', 'I', 'L']), "{code}");
            seen.insert(code);
        }
        assert!(seen.len() > 1_990, "codes repeat too often: {}", seen.len());
        assert!(!g.matches("DIWALI-12AB-CDEF"));

        let g = CodeGenerator::new(Some("vip-"), None, Some(6), Some("ab12")).unwrap();
        let code = g.generate(&mut pick);
        assert_eq!(code.len(), 10);
        assert!(
            code.starts_with("VIP-") && code[4..].chars().all(|c| "AB12".contains(c)),
            "{code}"
        );
        assert_eq!(g.capacity(), 4f64.powi(6));
    }

    #[test]
    fn bad_generator_settings_name_their_field() {
        let field = |r: Result<CodeGenerator, FieldError>| {
            let e = r.unwrap_err();
            (e.field, e.code)
        };
        assert_eq!(
            field(CodeGenerator::new(None, Some("AB#"), None, Some("XYZ"))),
            ("pattern".into(), "invalid_pattern")
        );
        assert_eq!(
            field(CodeGenerator::new(None, Some("SALE"), None, None)),
            ("pattern".into(), "invalid_pattern")
        );
        assert_eq!(
            field(CodeGenerator::new(None, Some("A#"), Some(5), None)),
            ("length".into(), "pattern_and_length")
        );
        assert_eq!(
            field(CodeGenerator::new(None, None, Some(2), None)),
            ("length".into(), "invalid_length")
        );
        assert_eq!(
            field(CodeGenerator::new(Some("a b"), None, None, None)),
            ("prefix".into(), "invalid_prefix")
        );
        assert_eq!(
            field(CodeGenerator::new(None, None, None, Some("A-"))),
            ("charset".into(), "invalid_charset")
        );
        let small = CodeGenerator::new(None, Some("X##"), None, None).unwrap();
        assert_eq!(small.check_room(7).unwrap_err().code, "pattern_too_small");
        assert!(small.check_room(6).is_ok());
    }

    #[test]
    fn codes_normalise_to_upper_case() {
        assert_eq!(normalize_code(" tenOFF ").unwrap(), "TENOFF");
        assert_eq!(normalize_code("AB").unwrap_err().code, "invalid_code");
        assert_eq!(normalize_code("TEN OFF").unwrap_err().code, "invalid_code");
        assert_eq!(normalize_code("दस").unwrap_err().code, "invalid_code");
    }

    #[test]
    fn discounts_are_computed_on_eligible_lines() {
        assert_eq!(
            one(&rules(Discount::Fixed { amount: 10_000 }), Usage::default(), None),
            Ok(10_000)
        );
        // More than the cart: capped at the lines.
        assert_eq!(
            one(
                &rules(Discount::Fixed { amount: 1_000_000 }),
                Usage::default(),
                None
            ),
            Ok(130_000)
        );
        // 12.5 % of 1,300.00, rounded down.
        assert_eq!(
            one(
                &rules(Discount::Percent { basis_points: 1_250 }),
                Usage::default(),
                None
            ),
            Ok(16_250)
        );
        assert_eq!(
            one(&rules(Discount::FreeShipping), Usage::default(), None),
            Ok(9_900)
        );
        assert_eq!(
            one(
                &rules(Discount::FreeProduct { sku: "mug".into() }),
                Usage::default(),
                None
            ),
            Ok(30_000)
        );
        assert_eq!(
            one(
                &rules(Discount::Gift {
                    description: "tote".into()
                }),
                Usage::default(),
                None
            ),
            Ok(0)
        );
        let mut scoped = rules(Discount::Percent { basis_points: 1_000 });
        scoped.scope.categories = vec!["kitchen".into()];
        assert_eq!(one(&scoped, Usage::default(), None), Ok(3_000));
        scoped.minimum_spend = 30_001;
        assert_eq!(
            one(&scoped, Usage::default(), None),
            Err(Refusal::MinimumSpendNotMet)
        );
        scoped.scope = CouponScope {
            skus: vec!["SPOON".into()],
            ..Default::default()
        };
        assert_eq!(
            one(&scoped, Usage::default(), None),
            Err(Refusal::NoEligibleItems)
        );
        assert_eq!(
            one(
                &rules(Discount::FreeProduct { sku: "SPOON".into() }),
                Usage::default(),
                None
            ),
            Err(Refusal::NoEligibleItems)
        );
    }

    #[test]
    fn every_refusal_has_its_reason() {
        let now = Timestamp(1_000_000);
        let me = CustomerId::new();
        let mut r = rules(Discount::Fixed { amount: 100 });
        r.expires_at = Some(now);
        assert_eq!(one(&r, Usage::default(), None), Err(Refusal::CouponExpired));
        r.expires_at = None;
        r.starts_at = Some(Timestamp(now.0 + 1));
        assert_eq!(one(&r, Usage::default(), None), Err(Refusal::CouponNotStarted));
        r.starts_at = Some(now);
        assert_eq!(one(&r, Usage::default(), None), Ok(100));
        r.usage_limit = Some(3);
        let used = |overall, by_customer| Usage {
            overall,
            by_customer,
            customer_orders: 0,
        };
        assert_eq!(one(&r, used(3, 0), None), Err(Refusal::UsageLimitReached));
        assert_eq!(one(&r, used(2, 0), None), Ok(100));
        r.per_customer_limit = Some(1);
        assert_eq!(one(&r, used(0, 0), None), Err(Refusal::CustomerRequired));
        assert_eq!(one(&r, used(1, 1), Some(me)), Err(Refusal::CustomerLimitReached));
        assert_eq!(one(&r, used(1, 0), Some(me)), Ok(100));
        r.customer_id = Some(me);
        assert_eq!(
            one(&r, used(0, 0), Some(CustomerId::new())),
            Err(Refusal::NotForThisCustomer)
        );
        assert_eq!(one(&r, used(0, 0), None), Err(Refusal::NotForThisCustomer));
        assert_eq!(one(&r, used(0, 0), Some(me)), Ok(100));
        let codes: HashSet<&str> = Refusal::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), Refusal::ALL.len());
    }

    #[test]
    fn first_order_coupons_refuse_customers_who_ordered_before() {
        let me = CustomerId::new();
        let mut r = rules(Discount::Percent { basis_points: 1_000 });
        let orders = |customer_orders| Usage {
            customer_orders,
            ..Usage::default()
        };
        // Without the rule, earlier orders do not matter.
        assert_eq!(one(&r, orders(3), Some(me)), Ok(13_000));
        r.first_order_only = true;
        assert_eq!(one(&r, orders(0), Some(me)), Ok(13_000), "a new customer");
        assert_eq!(one(&r, orders(1), Some(me)), Err(Refusal::NotFirstOrder));
        assert_eq!(one(&r, orders(0), None), Ok(13_000), "an anonymous checkout");
        // Storage counts nobody's orders for an anonymous checkout; even if it did, nobody
        // is refused.
        assert_eq!(one(&r, orders(2), None), Ok(13_000));
        // The rule comes after the others: an expired coupon is expired first.
        r.expires_at = Some(Timestamp(1));
        assert_eq!(one(&r, orders(1), Some(me)), Err(Refusal::CouponExpired));
        assert_eq!(Refusal::NotFirstOrder.code(), "not_first_order");
        assert_eq!(
            Refusal::NotFirstOrder.message(),
            "this coupon is for a customer's first order"
        );
        assert!(Refusal::ALL.contains(&Refusal::NotFirstOrder));
    }

    #[test]
    fn one_exclusive_coupon_per_cart_and_stacking_never_exceeds_the_cart() {
        let exclusive = CouponRules {
            stackable: false,
            ..rules(Discount::Fixed { amount: 100_000 })
        };
        let stackable = rules(Discount::Percent { basis_points: 5_000 });
        let entry = |code: &str, r| CodeInCart {
            code: code.into(),
            coupon: Some((r, Usage::default())),
        };
        let got = evaluate_cart(
            &cart(),
            None,
            Timestamp(0),
            &[
                entry("A", &exclusive),
                entry("B", &exclusive),
                entry("C", &stackable),
                entry("A", &stackable),
                CodeInCart {
                    code: "NOPE".into(),
                    coupon: None,
                },
            ],
        );
        assert_eq!(
            got,
            vec![
                Ok(100_000),
                Err(Refusal::NotStackable),
                // Half of the 30,000 the first coupon left.
                Ok(15_000),
                Err(Refusal::DuplicateCode),
                Err(Refusal::UnknownCoupon),
            ]
        );
    }

    #[test]
    fn rules_validate_their_fields() {
        let mut r = rules(Discount::Percent { basis_points: 10_001 });
        assert_eq!(r.validate().unwrap_err().field, "discount.basis_points");
        r.discount = Discount::Fixed { amount: 0 };
        assert_eq!(r.validate().unwrap_err().field, "discount.amount");
        r.discount = Discount::Fixed { amount: 1 };
        r.starts_at = Some(Timestamp(10));
        r.expires_at = Some(Timestamp(10));
        assert_eq!(r.validate().unwrap_err().code, "expires_before_start");
        r.expires_at = None;
        r.usage_limit = Some(0);
        assert_eq!(r.validate().unwrap_err().field, "usage_limit");
        r.usage_limit = Some(1);
        assert!(r.validate().is_ok());
    }
}
