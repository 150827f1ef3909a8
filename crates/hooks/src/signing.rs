//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>): `v1,` and the base64
//! HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the base64-decoded part
//! of a `whsec_…` secret. Several signatures, space-separated, let a receiver keep working
//! across a secret rotation.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// How many random bytes a new secret carries (the specification asks for 24 to 64).
pub const SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a signing secret is whsec_ followed by base64")]
pub struct BadSecret;

/// A new signing secret: `whsec_` and the base64 of [`SECRET_BYTES`] random bytes.
pub fn generate_secret() -> String {
    let mut key = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut key);
    format!("{PREFIX}{}", STANDARD.encode(key))
}

fn key(secret: &str) -> Result<Vec<u8>, BadSecret> {
    let encoded = secret.strip_prefix(PREFIX).ok_or(BadSecret)?;
    STANDARD.decode(encoded).map_err(|_| BadSecret)
}

fn mac(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<Hmac<Sha256>, BadSecret> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key(secret)?).expect("HMAC takes keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(mac)
}

/// One signature: `v1,<base64>`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, BadSecret> {
    let tag = mac(secret, id, timestamp, body)?.finalize().into_bytes();
    Ok(format!("v1,{}", STANDARD.encode(tag)))
}

/// The `webhook-signature` header: one signature per secret, space-separated.
pub fn signature_header(
    secrets: &[String],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, BadSecret> {
    let signatures = secrets
        .iter()
        .map(|s| sign(s, id, timestamp, body))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(signatures.join(" "))
}

/// Whether any `v1` signature of a `webhook-signature` header was made with `secret`
/// (compared in constant time). Receivers also check the timestamp is recent; see the README.
pub fn verify(secret: &str, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    header.split_whitespace().any(|candidate| {
        let Some(encoded) = candidate.strip_prefix("v1,") else {
            return false;
        };
        let (Ok(tag), Ok(mac)) = (STANDARD.decode(encoded), mac(secret, id, timestamp, body)) else {
            return false;
        };
        mac.verify_slice(&tag).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_base64_of_enough_random_bytes() {
        let a = generate_secret();
        let b = generate_secret();
        assert_ne!(a, b);
        assert!(a.starts_with("whsec_"));
        assert_eq!(key(&a).unwrap().len(), SECRET_BYTES);
    }

    #[test]
    fn the_specification_example_signs_as_published() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = br#"{"test": 2432232314}"#;
        let signature = sign(secret, id, 1614265330, body).unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(verify(
            secret,
            id,
            1614265330,
            body,
            &format!("v1,bm9wZQ== {signature}")
        ));
        assert!(!verify(secret, id, 1614265331, body, &signature));
        assert!(!verify(
            secret,
            id,
            1614265330,
            br#"{"test": 2432232315}"#,
            &signature
        ));
    }

    #[test]
    fn several_secrets_give_several_signatures() {
        let (old, new) = (generate_secret(), generate_secret());
        let header = signature_header(&[new.clone(), old.clone()], "msg_1", 10, b"{}").unwrap();
        assert_eq!(header.split(' ').count(), 2);
        assert!(verify(&old, "msg_1", 10, b"{}", &header));
        assert!(verify(&new, "msg_1", 10, b"{}", &header));
        assert!(!verify(&generate_secret(), "msg_1", 10, b"{}", &header));
        assert_eq!(sign("plain", "msg_1", 10, b"{}"), Err(BadSecret));
    }
}
