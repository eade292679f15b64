//! Randomness from the operating system (getrandom), and unbiased sampling from alphabets.

use zeroize::Zeroizing;

/// The operating system's random number generator failed. Nothing is generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RngError;

/// The nanoid URL-safe alphabet (64 symbols).
pub const NANOID_ALPHABET: &[u8; 64] =
    b"useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict";

/// Fills `buf` from the operating system's CSPRNG.
///
/// # Errors
/// [`RngError`] when the generator is unavailable.
pub fn fill(buf: &mut [u8]) -> Result<(), RngError> {
    getrandom::fill(buf).map_err(|_| RngError)
}

/// `N` random bytes, zeroized on drop.
///
/// # Errors
/// [`RngError`] when the generator is unavailable.
pub fn bytes<const N: usize>() -> Result<Zeroizing<[u8; N]>, RngError> {
    let mut out = Zeroizing::new([0u8; N]);
    fill(out.as_mut())?;
    Ok(out)
}

/// `len` symbols drawn uniformly from `alphabet` (at most 256 symbols), by rejection
/// sampling so that no symbol is more likely than another.
///
/// # Errors
/// [`RngError`] when the generator is unavailable.
pub fn string_from_alphabet(alphabet: &[u8], len: usize) -> Result<Zeroizing<String>, RngError> {
    let n = alphabet.len();
    if n == 0 || n > 256 {
        return Err(RngError);
    }
    // Largest multiple of n that fits in a byte: bytes at or above it are rejected.
    let limit = 256 - (256 % n);
    let mut out = Zeroizing::new(String::with_capacity(len));
    let mut pool = Zeroizing::new([0u8; 64]);
    while out.len() < len {
        fill(pool.as_mut())?;
        for b in pool.iter() {
            let v = usize::from(*b);
            if v < limit
                && let Some(sym) = alphabet.get(v % n)
            {
                out.push(char::from(*sym));
            }
            if out.len() == len {
                break;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphabet_strings_have_length_and_symbols() {
        let s = string_from_alphabet(b"AB", 100).unwrap();
        assert_eq!(s.len(), 100);
        assert!(s.bytes().all(|b| b == b'A' || b == b'B'));
        assert!(s.contains('A') && s.contains('B'));
        assert_eq!(string_from_alphabet(b"", 4), Err(RngError));
    }

    #[test]
    fn nanoid_alphabet_is_64_distinct_url_safe_symbols() {
        let mut v = NANOID_ALPHABET.to_vec();
        v.sort_unstable();
        v.dedup();
        assert_eq!(v.len(), 64);
        assert!(
            v.iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
        );
    }

    #[test]
    fn sampling_is_not_biased() {
        // 36 symbols: without rejection, the first 4 would appear 8/7 as often.
        let alphabet: Vec<u8> = (b'A'..=b'Z').chain(b'0'..=b'9').collect();
        let s = string_from_alphabet(&alphabet, 72_000).unwrap();
        let mut counts = [0u32; 36];
        for b in s.bytes() {
            let i = alphabet.iter().position(|a| *a == b).unwrap();
            counts[i] += 1;
        }
        // expected 2000 each; 5 sigma is about 220
        for c in counts {
            assert!((1780..=2220).contains(&c), "{counts:?}");
        }
    }
}
