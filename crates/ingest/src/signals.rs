//! Readers of what a shop tells about an order's origin ([`regulars_domain::OrderSignals`]):
//! referral codes, the buyer's IP address and device, the shipping address and the card.
//! These values identify people: never log them, nor put them in an error message.

use std::net::IpAddr;

use regulars_domain::{normalize_code, referral::address_key};

/// Names under which shops pass a referral code (note attributes, order meta), compared
/// case-insensitively.
pub const REFERRAL_KEYS: [&str; 4] = ["referral_code", "ref", "referral", "referred_by"];

/// A value trimmed; `None` when nothing is left.
pub fn clean(raw: Option<&str>) -> Option<String> {
    raw.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// A referral code as codes are stored (trimmed, upper-cased); `None` when the value cannot be
/// a code.
pub fn referral_code(raw: &str) -> Option<String> {
    normalize_code(raw).ok()
}

/// The buyer's IP address, in its canonical text form. `None` for what only stands in for an
/// address: empty, `0.0.0.0`, `::`, and loopback (an order placed from the shop's own server).
/// A value that does not read as an address is kept as sent.
pub fn browser_ip(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match raw.parse::<IpAddr>() {
        Ok(ip) if ip.is_unspecified() || ip.is_loopback() => None,
        Ok(ip) => Some(ip.to_string()),
        Err(_) => Some(raw.to_string()),
    }
}

/// [`address_key`] of an address given by its first line, postal code and country (an ISO
/// code where the shop gives one, so that every source keys a place alike).
pub fn address(line1: Option<&str>, postal_code: Option<&str>, country: Option<&str>) -> Option<String> {
    address_key(
        line1.unwrap_or_default(),
        postal_code.unwrap_or_default(),
        country.unwrap_or_default(),
    )
}

/// The `ref` query parameter of a URL or of a path with a query (`/?ref=ANNA-7K3Q`), as a
/// referral code; the first one that is a valid code.
pub fn ref_parameter(url: &str) -> Option<String> {
    let (_, query) = url.split_once('?')?;
    let query = query.split('#').next().unwrap_or_default();
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        if !percent_decode(key).trim().eq_ignore_ascii_case("ref") {
            return None;
        }
        referral_code(&percent_decode(value))
    })
}

/// Form-style decoding of a query component: `+` is a space, `%XX` a byte; malformed escapes
/// stay as written, invalid UTF-8 becomes U+FFFD.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// What identifies a card without being it: `brand:bin:last4`, lower-cased, from the brand, the
/// BIN (may be unknown: empty) and the digits of a masked number (`XXXX-XXXX-XXXX-4242`).
/// `None` when the number shows no digits.
pub fn payment_fingerprint(
    brand: Option<&str>,
    bin: Option<&str>,
    masked_number: Option<&str>,
) -> Option<String> {
    let digits: Vec<char> = masked_number?.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    let last4: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    let brand = brand.map(str::trim).unwrap_or_default();
    let bin = bin.map(str::trim).unwrap_or_default();
    Some(format!("{brand}:{bin}:{last4}").to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ref_parameter_of_paths_and_urls() {
        assert_eq!(
            ref_parameter("/?ref=RAVI-23AB&utm=x").as_deref(),
            Some("RAVI-23AB")
        );
        assert_eq!(
            ref_parameter("https://shop.example/products/tea?utm_source=x&ref=anna-7k3q#reviews").as_deref(),
            Some("ANNA-7K3Q")
        );
        assert_eq!(
            ref_parameter("/?REF=%20anna%2D7k3q").as_deref(),
            Some("ANNA-7K3Q")
        );
        assert_eq!(ref_parameter("/?ref=a%2").as_deref(), None, "not a code");
        assert_eq!(ref_parameter("/?ref=!!&ref=ok-123").as_deref(), Some("OK-123"));
        assert_eq!(ref_parameter("http://www.example.com?source=abc"), None);
        assert_eq!(ref_parameter("/ref=ANNA-7K3Q"), None, "not in a query");
        assert_eq!(ref_parameter("/?preref=ANNA-7K3Q"), None);
        assert_eq!(ref_parameter("/?ref=%"), None);
        assert_eq!(ref_parameter("/?ref=ab%"), None);
    }

    #[test]
    fn placeholder_addresses_are_no_address() {
        assert_eq!(browser_ip(" 0.0.0.0 "), None);
        assert_eq!(browser_ip("::"), None);
        assert_eq!(browser_ip("127.0.0.1"), None);
        assert_eq!(browser_ip(""), None);
        assert_eq!(browser_ip("203.0.113.7").as_deref(), Some("203.0.113.7"));
        assert_eq!(browser_ip("2001:DB8:0:0::1").as_deref(), Some("2001:db8::1"));
        assert_eq!(browser_ip("unknown").as_deref(), Some("unknown"));
    }

    #[test]
    fn cards_by_brand_bin_and_last_digits() {
        assert_eq!(
            payment_fingerprint(Some("Visa"), None, Some("XXXX-XXXX-XXXX-4242")).as_deref(),
            Some("visa::4242")
        );
        assert_eq!(
            payment_fingerprint(Some("Visa"), Some("424242"), Some("•••• •••• •••• 4242")).as_deref(),
            Some("visa:424242:4242")
        );
        assert_eq!(payment_fingerprint(Some("Visa"), None, Some("XXXX")), None);
        assert_eq!(payment_fingerprint(Some("Visa"), None, None), None);
        assert_eq!(
            payment_fingerprint(None, None, Some("42")).as_deref(),
            Some("::42")
        );
    }
}
