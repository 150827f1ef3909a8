//! The signed link to one customer's loyalty page. The token is base64url of the store id,
//! the customer id and the expiry (Unix seconds), followed by an HMAC-SHA256 of those with
//! the store's link key. Nothing is stored per link: the key proves it, the expiry ends it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use regulars_domain::{CustomerId, StoreId};
use sha2::Sha256;
use subtle::ConstantTimeEq;

const PAYLOAD_LEN: usize = 16 + 16 + 8;
const MAC_LEN: usize = 32;
/// Base64url of 72 bytes without padding.
const TOKEN_CHARS: usize = 96;

/// Separates the link's MAC from the form proofs made with the same key.
const LINK_CONTEXT: &[u8] = b"regulars/loyalty-link/v1\0";
const FORM_CONTEXT: &[u8] = b"regulars/loyalty-form/v1\0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claims {
    pub store: StoreId,
    pub customer: CustomerId,
    /// Unix seconds.
    pub expires: i64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Valid(Claims),
    /// Authentic, but past its expiry.
    Expired(Claims),
    /// Malformed, tampered with, signed by another key or naming another store.
    Invalid,
}

/// The stored key is hex; any other text is used as it is.
fn key_bytes(key: &str) -> Vec<u8> {
    hex::decode(key).unwrap_or_else(|_| key.as_bytes().to_vec())
}

fn mac(key: &str, context: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key_bytes(key)).expect("HMAC takes keys of any length");
    mac.update(context);
    mac
}

pub fn sign(key: &str, claims: Claims) -> String {
    let mut bytes = Vec::with_capacity(PAYLOAD_LEN + MAC_LEN);
    bytes.extend_from_slice(claims.store.0.as_bytes());
    bytes.extend_from_slice(claims.customer.0.as_bytes());
    bytes.extend_from_slice(&claims.expires.to_be_bytes());
    let mut m = mac(key, LINK_CONTEXT);
    m.update(&bytes);
    bytes.extend_from_slice(&m.finalize().into_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Checks the MAC first (in constant time), then the store the link is for, then its expiry.
pub fn verify(key: &str, token: &str, store: StoreId, now_secs: i64) -> Verdict {
    if token.len() != TOKEN_CHARS {
        return Verdict::Invalid;
    }
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(token) else {
        return Verdict::Invalid;
    };
    if bytes.len() != PAYLOAD_LEN + MAC_LEN {
        return Verdict::Invalid;
    }
    let (payload, given) = bytes.split_at(PAYLOAD_LEN);
    let mut m = mac(key, LINK_CONTEXT);
    m.update(payload);
    let expected = m.finalize().into_bytes();
    if !bool::from(expected.as_slice().ct_eq(given)) {
        return Verdict::Invalid;
    }
    // Sixteen bytes in hex are always a valid UUID.
    let (Ok(store_id), Ok(customer)) = (
        StoreId::parse(&hex::encode(&payload[..16])),
        CustomerId::parse(&hex::encode(&payload[16..32])),
    ) else {
        return Verdict::Invalid;
    };
    let claims = Claims {
        store: store_id,
        customer,
        expires: i64::from_be_bytes(payload[32..].try_into().expect("8 bytes")),
    };
    if claims.store != store {
        return Verdict::Invalid;
    }
    if now_secs >= claims.expires {
        return Verdict::Expired(claims);
    }
    Verdict::Valid(claims)
}

/// What a redeem form carries to show it was rendered by us for this link: an HMAC of the
/// token and the form's nonce. Another site cannot make one without the store's key.
pub fn form_proof(key: &str, token: &str, nonce: &str) -> String {
    let mut m = mac(key, FORM_CONTEXT);
    m.update(token.as_bytes());
    m.update(b"\0");
    m.update(nonce.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// Whether `proof` is the form proof of `token` and `nonce`, compared in constant time.
pub fn form_proof_ok(key: &str, token: &str, nonce: &str, proof: &str) -> bool {
    let expected = form_proof(key, token, nonce);
    proof.len() == expected.len() && bool::from(proof.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    fn claims() -> Claims {
        Claims {
            store: StoreId::new(),
            customer: CustomerId::new(),
            expires: 2_000_000_000,
        }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let c = claims();
        let token = sign(KEY, c);
        assert_eq!(token.len(), TOKEN_CHARS);
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(verify(KEY, &token, c.store, c.expires - 1), Verdict::Valid(c));
        assert_eq!(verify(KEY, &token, c.store, c.expires), Verdict::Expired(c));
    }

    #[test]
    fn tampering_another_key_or_another_store_is_invalid() {
        let c = claims();
        let token = sign(KEY, c);
        let mut flipped = token.clone().into_bytes();
        flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(verify(KEY, &flipped, c.store, 0), Verdict::Invalid);
        assert_eq!(
            verify(&KEY.replace('0', "1"), &token, c.store, 0),
            Verdict::Invalid
        );
        assert_eq!(verify(KEY, &token, StoreId::new(), 0), Verdict::Invalid);
        assert_eq!(verify(KEY, &token[1..], c.store, 0), Verdict::Invalid);
        assert_eq!(verify(KEY, "", c.store, 0), Verdict::Invalid);
        // A later expiry with the old MAC does not pass.
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[39] ^= 1;
        assert_eq!(
            verify(KEY, &URL_SAFE_NO_PAD.encode(bytes), c.store, 0),
            Verdict::Invalid
        );
    }

    #[test]
    fn form_proofs_bind_the_token_and_the_nonce() {
        let proof = form_proof(KEY, "token", "nonce");
        assert!(form_proof_ok(KEY, "token", "nonce", &proof));
        assert!(!form_proof_ok(KEY, "token", "other", &proof));
        assert!(!form_proof_ok(KEY, "other", "nonce", &proof));
        assert!(!form_proof_ok(KEY, "token", "nonce", ""));
    }
}
