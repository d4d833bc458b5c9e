//! Password hashes in Werkzeug's format, as MLflow's `basic_auth.db` stores them, so its
//! users can be carried over: mlox writes `pbkdf2:sha256:<iterations>$<salt>$<hex digest>`
//! and checks that and Werkzeug 3's default `scrypt:<N>:<r>:<p>$<salt>$<hex digest>`
//! (scrypt, RFC 7914, with a 64-byte output as Python's `hashlib.scrypt`).

use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use sha2::Sha256;

/// Werkzeug 3's default work factor for PBKDF2-SHA256.
pub const ITERATIONS: u32 = 600_000;
const SALT_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// PBKDF2-HMAC-SHA256 with any output length (RFC 8018).
fn pbkdf2_sha256_into(password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
    let prf = <Hmac<Sha256> as KeyInit>::new_from_slice(password).expect("HMAC takes any key");
    for (i, chunk) in out.chunks_mut(32).enumerate() {
        let mut u = {
            let mut mac = prf.clone();
            mac.update(salt);
            mac.update(&(i as u32 + 1).to_be_bytes());
            mac.finalize().into_bytes()
        };
        let mut t: [u8; 32] = u.into();
        for _ in 1..iterations {
            let mut mac = prf.clone();
            mac.update(&u);
            u = mac.finalize().into_bytes();
            for (o, b) in t.iter_mut().zip(u.iter()) {
                *o ^= b;
            }
        }
        chunk.copy_from_slice(&t[..chunk.len()]);
    }
}

/// Salsa20/8 core on one 64-byte block, in place.
fn salsa20_8(b: &mut [u32; 16]) {
    let mut x = *b;
    for _ in 0..4 {
        macro_rules! qr {
            ($a:expr, $b:expr, $c:expr, $d:expr) => {
                x[$b] ^= x[$a].wrapping_add(x[$d]).rotate_left(7);
                x[$c] ^= x[$b].wrapping_add(x[$a]).rotate_left(9);
                x[$d] ^= x[$c].wrapping_add(x[$b]).rotate_left(13);
                x[$a] ^= x[$d].wrapping_add(x[$c]).rotate_left(18);
            };
        }
        // Columns, then rows.
        qr!(0, 4, 8, 12);
        qr!(5, 9, 13, 1);
        qr!(10, 14, 2, 6);
        qr!(15, 3, 7, 11);
        qr!(0, 1, 2, 3);
        qr!(5, 6, 7, 4);
        qr!(10, 11, 8, 9);
        qr!(15, 12, 13, 14);
    }
    for (o, v) in b.iter_mut().zip(x.iter()) {
        *o = o.wrapping_add(*v);
    }
}

/// scryptBlockMix over `2r` 64-byte blocks (as words); `out` receives the result.
fn block_mix(input: &[u32], out: &mut [u32], r: usize) {
    let mut x = [0u32; 16];
    x.copy_from_slice(&input[(2 * r - 1) * 16..2 * r * 16]);
    for i in 0..2 * r {
        for (xv, bv) in x.iter_mut().zip(&input[i * 16..(i + 1) * 16]) {
            *xv ^= bv;
        }
        salsa20_8(&mut x);
        // Even blocks first, then odd ones.
        let dst = if i % 2 == 0 { i / 2 } else { r + i / 2 };
        out[dst * 16..(dst + 1) * 16].copy_from_slice(&x);
    }
}

/// scrypt (RFC 7914). `None` for parameters out of range (N not a power of two above 1,
/// or more memory than 1 GiB).
fn scrypt(password: &[u8], salt: &[u8], n: u64, r: u32, p: u32, dk_len: usize) -> Option<Vec<u8>> {
    let (r, p) = (r as usize, p as usize);
    if n < 2 || !n.is_power_of_two() || r == 0 || p == 0 || p > 16 {
        return None;
    }
    let n = usize::try_from(n).ok()?;
    let words = 32 * r; // one block of 128 * r bytes
    if n.checked_mul(words)?.checked_mul(4)? > 1 << 30 {
        return None;
    }
    let mut b = vec![0u8; p * 128 * r];
    pbkdf2_sha256_into(password, salt, 1, &mut b);
    let mut v = vec![0u32; n * words];
    let mut x = vec![0u32; words];
    let mut t = vec![0u32; words];
    for chunk in b.chunks_mut(128 * r) {
        for (w, c) in x.iter_mut().zip(chunk.chunks(4)) {
            *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        for i in 0..n {
            v[i * words..(i + 1) * words].copy_from_slice(&x);
            block_mix(&x, &mut t, r);
            std::mem::swap(&mut x, &mut t);
        }
        for _ in 0..n {
            // Integerify: the first word of the last 64-byte block, mod N.
            let j = (x[(2 * r - 1) * 16] as usize) & (n - 1);
            for (xv, vv) in x.iter_mut().zip(&v[j * words..(j + 1) * words]) {
                *xv ^= vv;
            }
            block_mix(&x, &mut t, r);
            std::mem::swap(&mut x, &mut t);
        }
        for (c, w) in chunk.chunks_mut(4).zip(x.iter()) {
            c.copy_from_slice(&w.to_le_bytes());
        }
    }
    let mut out = vec![0u8; dk_len];
    pbkdf2_sha256_into(password, &b, 1, &mut out);
    Some(out)
}

fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2_sha256_into(password, salt, iterations, &mut out);
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
    let expected = match m.next() {
        Some("pbkdf2") => {
            if m.next() != Some("sha256") {
                return false;
            }
            let Ok(iterations) = m.next().unwrap_or("600000").parse::<u32>() else {
                return false;
            };
            if iterations == 0 {
                return false;
            }
            hex(&pbkdf2_sha256(
                password.as_bytes(),
                salt.as_bytes(),
                iterations,
            ))
        }
        Some("scrypt") => {
            // Werkzeug's defaults when the method names no parameters.
            let params: Vec<&str> = m.collect();
            let (n, r, p) = match params.as_slice() {
                [] => (32768, 8, 1),
                [n, r, p] => match (n.parse::<u64>(), r.parse::<u32>(), p.parse::<u32>()) {
                    (Ok(n), Ok(r), Ok(p)) => (n, r, p),
                    _ => return false,
                },
                _ => return false,
            };
            match scrypt(password.as_bytes(), salt.as_bytes(), n, r, p, 64) {
                Some(d) => hex(&d),
                None => return false,
            }
        }
        _ => return false,
    };
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
    fn rfc7914_scrypt_vectors() {
        // RFC 7914 §12, first two vectors.
        assert_eq!(
            hex(&scrypt(b"", b"", 16, 1, 1, 64).unwrap()),
            "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442\
             fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906"
        );
        assert_eq!(
            hex(&scrypt(b"password", b"NaCl", 1024, 8, 16, 64).unwrap()),
            "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162\
             2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"
        );
        assert!(scrypt(b"x", b"y", 1000, 8, 1, 64).is_none());
    }

    #[test]
    fn werkzeug_scrypt_hashes_verify() {
        // Made by werkzeug.security.generate_password_hash("secret-password") (Werkzeug 3's
        // default method) in the project's venv.
        let default = "scrypt:32768:8:1$Mqu4qXSyIys3y4OA$068d377d781128538cb2e98628c9abc5\
            5f59e3715c44b2d456b8573ff5e854b67148a96c39756153c71ff4b99fdda298828d20e19569b\
            9513d1ca97d75f15cc7";
        assert!(verify(default, "secret-password"));
        assert!(!verify(default, "secret-passwore"));
        // generate_password_hash("pass-word-2", method="scrypt:1024:8:2").
        let small = "scrypt:1024:8:2$wIx6vakBw1kf95sy$d7c8ac41fa31e333e936c601ea88abf3a41\
            64f31dd3d9192b619a6e2987bc5708d7486254f22d1dd9bfe5150ebad826b723ff1f399ab7605a7f\
            7bc79fad63c3d";
        assert!(verify(small, "pass-word-2"));
        assert!(!verify(small, "pass-word-3"));
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
        assert!(!verify("scrypt:1000:8:1$salt$abcd", "x"));
        assert!(!verify("md5$salt$abcd", "x"));
        assert!(!verify("garbage", "x"));
    }
}
