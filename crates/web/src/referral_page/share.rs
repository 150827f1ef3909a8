//! Addresses made from a referral code: the share targets' links (WhatsApp, email, SMS) and
//! the shop's address with the code applied.

/// Percent-encodes everything but RFC 3986's unreserved characters. Spaces become `%20`, not
/// `+`: `mailto:` and `sms:` bodies are not form-encoded and would show the plus.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn whatsapp(message: &str) -> String {
    format!("https://wa.me/?text={}", encode(message))
}

pub fn email(subject: &str, body: &str) -> String {
    format!("mailto:?subject={}&body={}", encode(subject), encode(body))
}

/// `sms:?&body=` is the form both Android and iOS messaging apps read.
pub fn sms(body: &str) -> String {
    format!("sms:?&body={}", encode(body))
}

/// The host of an http(s) URL, lower-cased, without user info or port.
fn host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if !h.contains(']') || h.ends_with(']') => {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                authority
            }
        }
        _ => authority,
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// The shop's address (the program's `shop_url`) with the friend's code applied.
///
/// - A `{code}` in the address is replaced by the code: the program says exactly how its shop
///   takes a code.
/// - A host ending in `myshopify.com`, or an address that says nothing else: Shopify's
///   shareable discount link, `{shop_url}/discount/{code}`, which applies the code and opens
///   the shop. Shopify shops on their own domain take it too. When the address names a page
///   (`/collections/tea`), the link becomes `/discount/{code}?redirect=/collections/tea`, the
///   form Shopify reads, so the friend still lands on that page.
/// - An address that already carries a query string (`https://shop.example/?page_id=7`, the
///   way WooCommerce and other shops name their pages) says the shop reads parameters: the code
///   goes in one more, `coupon={code}` (`{shop_url}?coupon={code}` when the query is empty).
pub fn shop_link(shop_url: &str, code: &str) -> String {
    let shop_url = shop_url.trim();
    let code = encode(code);
    if shop_url.contains("{code}") {
        return shop_url.replace("{code}", &code);
    }
    let shopify = host(shop_url).is_some_and(|h| h.ends_with("myshopify.com"));
    let (without_fragment, fragment) = match shop_url.split_once('#') {
        Some((u, f)) => (u, Some(f)),
        None => (shop_url, None),
    };
    if !shopify {
        if let Some((base, query)) = without_fragment.split_once('?') {
            let joined = if query.is_empty() || query.ends_with('&') {
                format!("{base}?{query}coupon={code}")
            } else {
                format!("{base}?{query}&coupon={code}")
            };
            return match fragment {
                Some(f) => format!("{joined}#{f}"),
                None => joined,
            };
        }
    }
    // Shopify's form: /discount/{code} at the shop's root, the page it names as `redirect`.
    let (base, query) = match without_fragment.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (without_fragment, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let (origin, path) = match base[scheme_end..].find('/') {
        Some(i) => base.split_at(scheme_end + i),
        None => (base, ""),
    };
    let page = path.trim_end_matches('/');
    let mut link = format!("{origin}/discount/{code}");
    if !page.is_empty() || query.is_some_and(|q| !q.is_empty()) {
        let mut target = if page.is_empty() {
            "/".to_string()
        } else {
            page.to_string()
        };
        if let Some(q) = query.filter(|q| !q.is_empty()) {
            target.push('?');
            target.push_str(q);
        }
        link.push_str("?redirect=");
        link.push_str(&encode(&target));
    }
    link
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_only_unreserved_characters() {
        assert_eq!(encode("a b&c=d/é~"), "a%20b%26c%3Dd%2F%C3%A9~");
        assert_eq!(
            encode("http://127.0.0.1:8080/r/x/ANNA-7K3Q"),
            "http%3A%2F%2F127.0.0.1%3A8080%2Fr%2Fx%2FANNA-7K3Q"
        );
        assert_eq!(whatsapp("hi there"), "https://wa.me/?text=hi%20there");
        assert_eq!(email("S", "B b"), "mailto:?subject=S&body=B%20b");
        assert_eq!(sms("B"), "sms:?&body=B");
    }

    #[test]
    fn shopify_shops_get_the_discount_path() {
        assert_eq!(
            shop_link("https://chai.myshopify.com", "ANNA-7K3Q"),
            "https://chai.myshopify.com/discount/ANNA-7K3Q"
        );
        assert_eq!(
            shop_link("https://chai.myshopify.com/", "ANNA-7K3Q"),
            "https://chai.myshopify.com/discount/ANNA-7K3Q"
        );
        assert_eq!(
            shop_link("https://Chai.MyShopify.com:443/collections/tea/", "A-1"),
            "https://Chai.MyShopify.com:443/discount/A-1?redirect=%2Fcollections%2Ftea"
        );
        // A Shopify shop keeps its query in the redirect rather than taking `coupon=`.
        assert_eq!(
            shop_link("https://chai.myshopify.com/collections/tea?sort=new", "A-1"),
            "https://chai.myshopify.com/discount/A-1?redirect=%2Fcollections%2Ftea%3Fsort%3Dnew"
        );
        // Nothing else said: the discount path, also on the shop's own domain.
        assert_eq!(
            shop_link("https://chaichaupal.in", "A-1"),
            "https://chaichaupal.in/discount/A-1"
        );
    }

    #[test]
    fn other_shops_say_how_they_take_a_code() {
        assert_eq!(
            shop_link("https://shop.example/?", "A-1"),
            "https://shop.example/?coupon=A-1"
        );
        assert_eq!(
            shop_link("https://shop.example/?page_id=7#top", "A-1"),
            "https://shop.example/?page_id=7&coupon=A-1#top"
        );
        assert_eq!(
            shop_link("https://shop.example/cart/?apply={code}", "A-1"),
            "https://shop.example/cart/?apply=A-1"
        );
    }

    #[test]
    fn hosts_lose_user_info_and_port() {
        assert_eq!(
            host("https://u:p@Shop.Example:8443/x").as_deref(),
            Some("shop.example")
        );
        assert_eq!(host("http://[::1]:80/").as_deref(), Some("[::1]"));
        assert_eq!(host("nonsense"), None);
    }
}
