//! The `punycode` codec (RFC 3492) with CPython's `errors` handling:
//! invalid input raises under `strict` and ends decoding otherwise.

use super::{DecodeError, Errors};

const BASE: u64 = 36;
const TMIN: u64 = 1;
const TMAX: u64 = 26;

fn adapt(mut delta: u64, first: bool, numchars: u64) -> u64 {
    delta = if first { delta / 700 } else { delta / 2 };
    delta += delta / numchars;
    let mut divisions = 0;
    while delta > ((BASE - TMIN) * TMAX) / 2 {
        delta /= BASE - TMIN;
        divisions += BASE;
    }
    divisions + (BASE * delta / (delta + 38))
}

/// `T(j, bias)`: `36 * (j + 1) - bias` clamped to 1..=26.
fn threshold(j: u64, bias: u64) -> u64 {
    let res = (BASE * (j + 1)) as i128 - bias as i128;
    res.clamp(TMIN as i128, TMAX as i128) as u64
}

/// `decode_generalized_number`: (new position, delta) or None at the end
/// of input or on an invalid digit.
fn generalized_number(
    extended: &[u8],
    mut pos: usize,
    bias: u64,
    errors: Errors,
) -> Result<(usize, Option<u64>), DecodeError> {
    let mut result: u64 = 0;
    let mut w: u64 = 1;
    let mut j = 0;
    loop {
        let Some(&c) = extended.get(pos) else {
            if errors == Errors::Strict {
                return Err(DecodeError::Unicode);
            }
            return Ok((pos + 1, None));
        };
        pos += 1;
        let digit = match c {
            b'A'..=b'Z' => u64::from(c - b'A'),
            b'0'..=b'9' => u64::from(c - 22),
            _ => {
                if errors == Errors::Strict {
                    return Err(DecodeError::Unicode);
                }
                return Ok((pos, None));
            }
        };
        let t = threshold(j, bias);
        result = result.saturating_add(digit.saturating_mul(w));
        if digit < t {
            return Ok((pos, Some(result)));
        }
        w = w.saturating_mul(BASE - t);
        j += 1;
    }
}

/// `codecs.decode(data, "punycode", errors)`.
pub(crate) fn decode(input: &[u8], errors: Errors) -> Result<String, DecodeError> {
    let (base, extended) = match input.iter().rposition(|&b| b == b'-') {
        None => (&input[..0], input),
        Some(p) => (&input[..p], &input[p + 1..]),
    };
    if !extended.is_ascii() {
        return Err(DecodeError::Unicode);
    }
    let mut out: Vec<u32> = Vec::new();
    for &b in base {
        if b.is_ascii() {
            out.push(u32::from(b));
        } else {
            match errors {
                Errors::Strict => return Err(DecodeError::Unicode),
                Errors::Replace => out.push(0xfffd),
                Errors::Ignore => {}
            }
        }
    }
    let extended: Vec<u8> = extended.to_ascii_uppercase();
    let mut ch: u64 = 0x80;
    let mut pos: u64 = u64::MAX; // -1
    let mut bias: u64 = 72;
    let mut extpos = 0;
    while extpos < extended.len() {
        let (newpos, delta) = generalized_number(&extended, extpos, bias, errors)?;
        let Some(delta) = delta else { break };
        pos = pos.wrapping_add(delta).wrapping_add(1);
        let len = out.len() as u64 + 1;
        ch = ch.saturating_add(pos / len);
        if ch > 0x10ffff {
            if errors == Errors::Strict {
                return Err(DecodeError::Unicode);
            }
            ch = u64::from(b'?');
        }
        pos %= len;
        out.insert(pos as usize, ch as u32);
        bias = adapt(delta, extpos == 0, len);
        extpos = newpos;
    }
    let mut sink = super::Sink::new(Errors::Strict, out.len());
    for cp in out {
        sink.push_cp(cp);
    }
    sink.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3492_samples() {
        assert_eq!(decode(b"bcher-kva", Errors::Strict).unwrap(), "b\u{fc}cher");
        assert_eq!(
            decode(b"egbpdaj6bu4bxfgehfvwxn", Errors::Strict).unwrap(),
            "\u{644}\u{64a}\u{647}\u{645}\u{627}\u{628}\u{62a}\u{643}\u{644}\u{645}\u{648}\u{634}\u{639}\u{631}\u{628}\u{64a}\u{61f}"
        );
        assert!(decode(b"a-!", Errors::Strict).is_err());
        assert_eq!(decode(b"abc-", Errors::Ignore).unwrap(), "abc");
    }
}
