//! Regulars speaks English, Hindi, Telugu and Armenian. Every string a person reads comes from
//! the Fluent files in `locales/`; numbers, money and dates are formatted for the reader's
//! language (lakh grouping for Indian languages and for English in an Indian store, `֏` after
//! the amount in Armenian), dates in the store's time zone.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use icu_decimal::input::Decimal;
use icu_decimal::DecimalFormatter;
use regulars_domain::{Currency, Timestamp};

/// A language the interface is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    Hi,
    Te,
    Hy,
}

impl Lang {
    pub const ALL: [Lang; 4] = [Lang::En, Lang::Hi, Lang::Te, Lang::Hy];

    /// The BCP 47 code (`en`, `hi`, `te`, `hy`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Hi => "hi",
            Lang::Te => "te",
            Lang::Hy => "hy",
        }
    }

    /// The language's name in itself, for the language switch.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Hi => "हिन्दी",
            Lang::Te => "తెలుగు",
            Lang::Hy => "Հայերեն",
        }
    }

    /// The interface language for a locale tag (`te-IN`, `hy`, `en_US` …); `None` when we do
    /// not speak it.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.code() == primary)
    }

    /// The first language of an `Accept-Language` header we speak, in the order given.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut ranked: Vec<(f32, Lang)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.split(';');
                let lang = Lang::from_tag(pieces.next()?)?;
                let q = pieces
                    .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()))
                    .unwrap_or(1.0);
                Some((q, lang))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.first().map(|(_, l)| *l)
    }

    /// The language's Fluent files, one per area of the product (`locales/<code>/<area>.ftl`).
    fn sources(self) -> [(&'static str, &'static str); AREAS.len()] {
        macro_rules! area_files {
            ($code:literal) => {
                [
                    (
                        "main",
                        include_str!(concat!("../locales/", $code, "/main.ftl")),
                    ),
                    (
                        "customers",
                        include_str!(concat!("../locales/", $code, "/customers.ftl")),
                    ),
                    (
                        "orders",
                        include_str!(concat!("../locales/", $code, "/orders.ftl")),
                    ),
                    (
                        "imports",
                        include_str!(concat!("../locales/", $code, "/imports.ftl")),
                    ),
                    (
                        "settings",
                        include_str!(concat!("../locales/", $code, "/settings.ftl")),
                    ),
                    (
                        "analytics",
                        include_str!(concat!("../locales/", $code, "/analytics.ftl")),
                    ),
                    (
                        "loyalty",
                        include_str!(concat!("../locales/", $code, "/loyalty.ftl")),
                    ),
                    (
                        "coupons",
                        include_str!(concat!("../locales/", $code, "/coupons.ftl")),
                    ),
                    (
                        "webhooks",
                        include_str!(concat!("../locales/", $code, "/webhooks.ftl")),
                    ),
                    (
                        "loyalty_page",
                        include_str!(concat!("../locales/", $code, "/loyalty_page.ftl")),
                    ),
                    (
                        "referrals",
                        include_str!(concat!("../locales/", $code, "/referrals.ftl")),
                    ),
                    (
                        "referral_page",
                        include_str!(concat!("../locales/", $code, "/referral_page.ftl")),
                    ),
                ]
            };
        }
        match self {
            Lang::En => area_files!("en"),
            Lang::Hi => area_files!("hi"),
            Lang::Te => area_files!("te"),
            Lang::Hy => area_files!("hy"),
        }
    }
}

/// The areas with a Fluent file of their own in every language.
const AREAS: [&str; 12] = [
    "main",
    "customers",
    "orders",
    "imports",
    "settings",
    "analytics",
    "loyalty",
    "webhooks",
    "coupons",
    "loyalty_page",
    "referrals",
    "referral_page",
];

struct Catalog {
    bundles: Vec<(Lang, FluentBundle<FluentResource>)>,
}

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog {
        bundles: Lang::ALL
            .into_iter()
            .map(|lang| {
                let id: unic_langid::LanguageIdentifier = lang.code().parse().expect("valid tag");
                let mut bundle = FluentBundle::new_concurrent(vec![id]);
                // Our pages are HTML and our scripts all run left to right: no isolation marks.
                bundle.set_use_isolating(false);
                for (area, source) in lang.sources() {
                    let file = format!("locales/{}/{area}.ftl", lang.code());
                    let resource = FluentResource::try_new(source.to_string())
                        .unwrap_or_else(|(_, errors)| panic!("{file}: {errors:?}"));
                    bundle
                        .add_resource(resource)
                        .unwrap_or_else(|errors| panic!("{file}: {errors:?}"));
                }
                (lang, bundle)
            })
            .collect(),
    })
}

impl Catalog {
    fn bundle(&self, lang: Lang) -> &FluentBundle<FluentResource> {
        &self
            .bundles
            .iter()
            .find(|(l, _)| *l == lang)
            .expect("every language loaded")
            .1
    }
}

/// The message `id` in `lang`, falling back to English, then to the id itself (a missing
/// message shows as its id rather than breaking the page; a test keeps the files complete).
pub fn text(lang: Lang, id: &str) -> String {
    text_with(lang, id, &[])
}

/// [`text`] with named arguments (`{ $email }` in the message).
pub fn text_with(lang: Lang, id: &str, args: &[(&str, &str)]) -> String {
    let catalog = catalog();
    let mut fluent_args = FluentArgs::new();
    for (name, value) in args {
        fluent_args.set(*name, FluentValue::from(*value));
    }
    for candidate in [lang, Lang::En] {
        let bundle = catalog.bundle(candidate);
        if let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) {
            let mut errors = Vec::new();
            let out = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
            return out.into_owned();
        }
    }
    id.to_string()
}

/// The ids of every message in a language's file.
pub fn message_ids(lang: Lang) -> Vec<String> {
    lang.sources()
        .iter()
        .flat_map(|(_, source)| source.lines())
        .filter_map(|l| l.split_once(" = ").map(|(id, _)| id.trim()))
        .filter(|id| !id.is_empty() && !id.starts_with('#') && !id.starts_with(' '))
        .map(str::to_string)
        .collect()
}

/// The locale numbers are written in: the reader's language, and Indian English in a store
/// that sells in rupees.
fn number_locale(lang: Lang, currency: Option<Currency>) -> &'static str {
    match (lang, currency) {
        (Lang::En, Some(c)) if c == Currency::INR => "en-IN",
        (Lang::En, _) => "en",
        (Lang::Hi, _) => "hi",
        (Lang::Te, _) => "te",
        (Lang::Hy, _) => "hy",
    }
}

thread_local! {
    // ICU4X formatters are not Sync; each thread builds its own once (a few microseconds).
    static FORMATTERS: Vec<(&'static str, DecimalFormatter)> = ["en", "en-IN", "hi", "te", "hy"]
        .into_iter()
        .map(|tag| {
            let locale: icu_locale_core::Locale = tag.parse().expect("valid tag");
            let f = DecimalFormatter::try_new((&locale).into(), Default::default())
                .expect("compiled data covers our languages");
            (tag, f)
        })
        .collect();
}

fn format_decimal(tag: &'static str, decimal: &Decimal) -> String {
    FORMATTERS.with(|all| {
        let formatter = &all.iter().find(|(t, _)| *t == tag).expect("known tag").1;
        formatter.format(decimal).to_string()
    })
}

/// A whole number with the reader's grouping: 12,34,567 in Hindi and Telugu, 1,234,567 in
/// English, 1 234 567 in Armenian.
pub fn format_number(lang: Lang, n: i64, currency: Option<Currency>) -> String {
    format_decimal(number_locale(lang, currency), &Decimal::from(n))
}

/// A share as a percentage with one decimal (`0.4567` → `45.7%`).
pub fn format_percent(lang: Lang, ratio: f64) -> String {
    let tenths = (ratio * 1000.0).round() as i64;
    let mut d = Decimal::from(tenths);
    d.multiply_pow10(-1);
    format!("{}%", format_decimal(number_locale(lang, None), &d))
}

/// A number with `digits` decimals, grouped and with the decimal sign of the reader
/// (`1.5` → `1.50` in English, `1,50` in Armenian).
pub fn format_fraction(lang: Lang, value: f64, digits: u8) -> String {
    let scaled = (value * 10f64.powi(i32::from(digits))).round() as i64;
    let mut d = Decimal::from(scaled);
    d.multiply_pow10(-i16::from(digits));
    format_decimal(number_locale(lang, None), &d)
}

/// The currency's sign, or its code when it has no well-known one.
pub fn currency_symbol(currency: Currency) -> String {
    match currency.code() {
        "INR" => "₹".into(),
        "AMD" => "֏".into(),
        "USD" => "$".into(),
        "EUR" => "€".into(),
        "GBP" => "£".into(),
        other => other.to_string(),
    }
}

/// What goes before and after an amount of this currency for this reader: `("₹", "")`,
/// `("", "\u{a0}֏")`.
pub fn money_affixes(lang: Lang, currency: Currency) -> (String, String) {
    let symbol = currency_symbol(currency);
    if lang == Lang::Hy || currency == Currency::AMD {
        (String::new(), format!("\u{a0}{symbol}"))
    } else {
        (symbol, String::new())
    }
}

/// An amount in minor units with its currency, as the reader writes money: `₹12,34,567.00`,
/// `$1,234.50`, `1 500,00 ֏`.
pub fn format_money(lang: Lang, minor: i64, currency: Currency) -> String {
    let mut d = Decimal::from(minor);
    d.multiply_pow10(-(currency.exponent() as i16));
    let amount = format_decimal(number_locale(lang, Some(currency)), &d);
    let (prefix, suffix) = money_affixes(lang, currency);
    format!("{prefix}{amount}{suffix}")
}

fn chrono_locale(lang: Lang) -> chrono::Locale {
    match lang {
        Lang::En => chrono::Locale::en_IN,
        Lang::Hi => chrono::Locale::hi_IN,
        Lang::Te => chrono::Locale::te_IN,
        Lang::Hy => chrono::Locale::hy_AM,
    }
}

/// A calendar date in the store's time zone with the month named in the reader's language.
pub fn format_date(lang: Lang, at: Timestamp, zone: chrono_tz::Tz) -> String {
    at.to_datetime()
        .with_timezone(&zone)
        .format_localized("%-d %B %Y", chrono_locale(lang))
        .to_string()
}

/// A calendar month named in the reader's language (`March 2026`, `մարտ 2026`).
pub fn format_month(lang: Lang, year: i32, month: u32) -> String {
    // chrono names Armenian months in the genitive a date needs ("մարտի"); alone, a month
    // takes the nominative.
    const HY: [&str; 12] = [
        "հունվար",
        "փետրվար",
        "մարտ",
        "ապրիլ",
        "մայիս",
        "հունիս",
        "հուլիս",
        "օգոստոս",
        "սեպտեմբեր",
        "հոկտեմբեր",
        "նոյեմբեր",
        "դեկտեմբեր",
    ];
    match (lang, chrono::NaiveDate::from_ymd_opt(year, month, 1)) {
        (_, None) => format!("{year:04}-{month:02}"),
        (Lang::Hy, Some(_)) => format!("{} {year}", HY[month as usize - 1]),
        (_, Some(d)) => d.format_localized("%B %Y", chrono_locale(lang)).to_string(),
    }
}

/// Date and time in the store's time zone.
pub fn format_datetime(lang: Lang, at: Timestamp, zone: chrono_tz::Tz) -> String {
    at.to_datetime()
        .with_timezone(&zone)
        .format_localized("%-d %B %Y, %H:%M", chrono_locale(lang))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_message_and_they_differ_from_english() {
        let english = message_ids(Lang::En);
        assert!(english.len() > 30, "{english:?}");
        for lang in [Lang::Hi, Lang::Te, Lang::Hy] {
            let ids = message_ids(lang);
            for id in &english {
                assert!(ids.contains(id), "locales/{}/ lacks {id}", lang.code());
            }
            for id in &ids {
                assert!(
                    english.contains(id),
                    "locales/{}/ has {id}, locales/en/ does not",
                    lang.code()
                );
            }
            assert_ne!(text(lang, "nav-customers"), text(Lang::En, "nav-customers"));
        }
    }

    #[test]
    fn messages_take_arguments_and_missing_ones_fall_back() {
        assert_eq!(
            text_with(Lang::Te, "nav-signed-in-as", &[("email", "a@b.in")]),
            "a@b.in గా సైన్ ఇన్ అయ్యారు"
        );
        assert_eq!(text(Lang::Hy, "nav-customers"), "Հաճախորդներ");
        assert_eq!(text(Lang::Hi, "no-such-message"), "no-such-message");
    }

    #[test]
    fn languages_come_from_tags_and_accept_language() {
        assert_eq!(Lang::from_tag("te-IN"), Some(Lang::Te));
        assert_eq!(Lang::from_tag("hy_AM"), Some(Lang::Hy));
        assert_eq!(Lang::from_tag("fr"), None);
        assert_eq!(
            Lang::from_accept_language("fr-FR, hi;q=0.8, en;q=0.9"),
            Some(Lang::En)
        );
        assert_eq!(Lang::from_accept_language("fr-FR, te;q=0.5"), Some(Lang::Te));
        assert_eq!(Lang::from_accept_language("fr, de"), None);
    }

    #[test]
    fn numbers_group_by_the_readers_custom() {
        assert_eq!(format_number(Lang::Te, 1_234_567, None), "12,34,567");
        assert_eq!(format_number(Lang::Hi, 10_000_000, None), "1,00,00,000");
        assert_eq!(format_number(Lang::En, 1_234_567, None), "1,234,567");
        assert_eq!(
            format_number(Lang::En, 1_234_567, Some(Currency::INR)),
            "12,34,567"
        );
        assert_eq!(format_number(Lang::Hy, 1_234_567, None), "1\u{a0}234\u{a0}567");
        assert_eq!(format_number(Lang::En, -1_000, None), "-1,000");
    }

    #[test]
    fn money_keeps_its_minor_units_and_symbol() {
        assert_eq!(
            format_money(Lang::Te, 123_456_700, Currency::INR),
            "₹12,34,567.00"
        );
        assert_eq!(format_money(Lang::En, 123_450, Currency::USD), "$1,234.50");
        assert_eq!(
            format_money(Lang::Hy, 123_456_700, Currency::AMD),
            "1\u{a0}234\u{a0}567,00\u{a0}֏"
        );
        // Armenian, like CLDR says, leaves four-digit amounts ungrouped.
        assert_eq!(format_money(Lang::Hy, 150_000, Currency::AMD), "1500,00\u{a0}֏");
        assert_eq!(format_money(Lang::En, 5, Currency::INR), "₹0.05");
        assert_eq!(format_percent(Lang::En, 0.4567), "45.7%");
        assert_eq!(format_fraction(Lang::En, 1.5, 2), "1.50");
        assert_eq!(format_fraction(Lang::Hy, 1.5, 1), "1,5");
        assert_eq!(format_month(Lang::Te, 2026, 3), "మార్చి 2026");
        assert_eq!(format_month(Lang::Hy, 2026, 3), "մարտ 2026");
    }

    #[test]
    fn dates_are_in_the_store_zone_and_the_readers_language() {
        // 2026-01-31T20:00:00Z is already 1 February in Kolkata and Yerevan.
        let at = Timestamp::parse_rfc3339("2026-01-31T20:00:00Z").unwrap();
        assert_eq!(
            format_date(Lang::En, at, chrono_tz::Asia::Kolkata),
            "1 February 2026"
        );
        assert_eq!(
            format_date(Lang::En, at, chrono_tz::America::New_York),
            "31 January 2026"
        );
        assert!(format_date(Lang::Te, at, chrono_tz::Asia::Kolkata).contains("ఫిబ్రవరి"));
        assert!(format_date(Lang::Hi, at, chrono_tz::Asia::Kolkata).contains("फ़रवरी"));
        assert_eq!(
            format_datetime(Lang::En, at, chrono_tz::Asia::Yerevan),
            "1 February 2026, 00:00"
        );
    }
}
