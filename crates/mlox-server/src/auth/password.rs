//! Password hashes in Werkzeug's format (`pbkdf2:sha256:<iterations>$<salt>$<hex digest>`),
//! the format MLflow's `basic_auth.db` uses for PBKDF2, so its users can be carried over.

use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use sha2::Sha256;

/// Werkzeug 3's default work factor for PBKDF2-SHA256.
pub const ITERATIONS: u32 = 600_000;
const SALT_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let prf = <Hmac<Sha256> as KeyInit>::new_from_slice(password).expect("HMAC takes any key");
    // One 32-byte block: the output is as long as the digest.
    let mut u = {
        let mut mac = prf.clone();
        mac.update(salt);
        mac.update(&1u32.to_be_bytes());
        mac.finalize().into_bytes()
    };
    let mut out: [u8; 32] = u.into();
    for _ in 1..iterations {
        let mut mac = prf.clone();
        mac.update(&u);
        u = mac.finalize().into_bytes();
        for (o, b) in out.iter_mut().zip(u.iter()) {
            *o ^= b;
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new hash of `password` with a random 16-character salt.
pub fn hash(password: &str) -> String {
    hash_with(password, ITERATIONS)
}

pub(crate) fn hash_with(password: &str, iterations: u32) -> String {
    let mut rng = rand::thread_rng();
    let salt: String = (0..16)
        .map(|_| SALT_CHARS[rng.gen_range(0..SALT_CHARS.len())] as char)
        .collect();
    let digest = pbkdf2_sha256(password.as_bytes(), salt.as_bytes(), iterations);
    format!("pbkdf2:sha256:{iterations}${salt}${}", hex(&digest))
}

/// Whether `password` matches `stored` (false for formats mlox cannot check).
pub fn verify(stored: &str, password: &str) -> bool {
    let mut parts = stored.splitn(3, '$');
    let (Some(method), Some(salt), Some(digest)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let mut m = method.split(':');
    if m.next() != Some("pbkdf2") || m.next() != Some("sha256") {
        return false;
    }
    let Ok(iterations) = m.next().unwrap_or("600000").parse::<u32>() else {
        return false;
    };
    if iterations == 0 {
        return false;
    }
    let expected = hex(&pbkdf2_sha256(
        password.as_bytes(),
        salt.as_bytes(),
        iterations,
    ));
    // Constant time in the digest's length.
    expected.len() == digest.len()
        && expected
            .bytes()
            .zip(digest.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7914_vector() {
        // PBKDF2-HMAC-SHA256, P="passwd", S="salt", c=1 (RFC 7914 §11), first 32 bytes.
        assert_eq!(
            hex(&pbkdf2_sha256(b"passwd", b"salt", 1)),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
    }

    #[test]
    fn werkzeug_hash_verifies() {
        // Accepted by werkzeug.security.check_password_hash(stored, "secret-password").
        let stored = "pbkdf2:sha256:1000$abcdefghijklmnop$\
            a30f40a7b92ab484e399133edb242a4a87a32143c2c778987aa4b459781b2462";
        assert!(verify(stored, "secret-password"));
        assert!(!verify(stored, "secret-passwore"));
        let ours = hash_with("x-password-12", 1000);
        assert!(ours.starts_with("pbkdf2:sha256:1000$"));
        assert!(verify(&ours, "x-password-12"));
        assert!(!verify(&ours, "x-password-13"));
        assert!(!verify("scrypt:32768:8:1$salt$abcd", "x"));
        assert!(!verify("garbage", "x"));
    }
}
