//! Number normalisation.
//!
//! event-ruler compares numbers as IEEE-754 doubles, but only numbers whose decimal text
//! is exactly a double (after the shortest round trip) get that comparable form; others
//! (for example 20-digit account numbers) only match by their literal text.

use serde_json::Number;

/// A decimal in canonical form: `0.d1d2d3... * 10^exp`, no leading or trailing zero digits.
#[derive(PartialEq, Eq, Debug)]
struct Decimal {
    negative: bool,
    digits: Vec<u8>,
    exp: i64,
}

fn decimal(text: &str) -> Option<Decimal> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exp) = match rest.find(['e', 'E']) {
        Some(pos) => (&rest[..pos], rest[pos + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut digits = Vec::with_capacity(int.len() + frac.len());
    for b in int.bytes().chain(frac.bytes()) {
        if !b.is_ascii_digit() {
            return None;
        }
        digits.push(b - b'0');
    }
    let mut point = i64::try_from(int.len()).ok()?;
    let leading = digits.iter().take_while(|d| **d == 0).count();
    digits.drain(..leading);
    point -= i64::try_from(leading).ok()?;
    while digits.last() == Some(&0) {
        digits.pop();
    }
    if digits.is_empty() {
        // Zero has one canonical form whatever its sign and exponent.
        return Some(Decimal {
            negative: false,
            digits,
            exp: 0,
        });
    }
    Some(Decimal {
        negative,
        digits,
        exp: exp.checked_add(point)?,
    })
}

/// The double value of a JSON number text, when the text denotes exactly that double.
///
/// Mirrors event-ruler's `ComparableNumber`: `0.1` is accepted (its shortest round trip is
/// `0.1`), `1e-325` (underflows) and `12345678901234567891` (loses digits) are not.
pub(crate) fn comparable(text: &str) -> Option<f64> {
    let value: f64 = text.parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    let shortest = format!("{value:e}");
    (decimal(text)? == decimal(&shortest)?).then_some(normalise_zero(value))
}

fn normalise_zero(value: f64) -> f64 {
    if value == 0.0 {
        0.0
    } else {
        value
    }
}

/// The comparable double of an event number, if it has one.
pub(crate) fn event_comparable(number: &Number) -> Option<f64> {
    // 2^53: every integer below it is exactly a double, which avoids formatting the common case.
    const EXACT: u64 = 1 << 53;
    if let Some(i) = number.as_i64() {
        if i.unsigned_abs() <= EXACT {
            return Some(normalise_zero(i as f64));
        }
        return comparable(&i.to_string());
    }
    if let Some(u) = number.as_u64() {
        return comparable(&u.to_string());
    }
    number
        .as_f64()
        .filter(|f| f.is_finite())
        .map(normalise_zero)
}

/// The key under which an event-set index files a comparable number.
pub(crate) fn index_key(value: f64) -> u64 {
    normalise_zero(value).to_bits()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn representations_of_the_same_number_agree() {
        for text in ["300", "300.0", "3e2", "3.0E2", "3000e-1", "0.3e3"] {
            assert_eq!(comparable(text), Some(300.0), "{text}");
        }
        assert_eq!(comparable("-0"), Some(0.0));
        assert_eq!(comparable("0.1"), Some(0.1));
    }

    #[test]
    fn inexact_numbers_have_no_comparable_form() {
        assert_eq!(comparable("1E-325"), None);
        assert_eq!(comparable("2.0e422"), None);
        assert_eq!(comparable("12345678901234567891"), None);
        assert_eq!(comparable("0.10000000000000000001"), None);
    }

    #[test]
    fn event_numbers() {
        let n: Number = serde_json::from_str("9007199254740993").unwrap_or_else(|_| 0.into());
        assert_eq!(event_comparable(&n), None);
        let n: Number = 5.into();
        assert_eq!(event_comparable(&n), Some(5.0));
    }
}
