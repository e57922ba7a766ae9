//! IP addresses and CIDR blocks.
//!
//! Follows event-ruler: only text that looks like an address (dotted decimal, or hex digits
//! and colons) is parsed, IPv4-mapped IPv6 addresses count as IPv4, and a mask must leave at
//! least one variable bit (`/32` and `/128` are refused).

use std::net::Ipv6Addr;

/// An address: whether it is IPv6, and its bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ip {
    v6: bool,
    bits: u128,
}

/// An inclusive range of addresses of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IpRange {
    v6: bool,
    low: u128,
    high: u128,
}

fn looks_like_ipv4(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn looks_like_ipv6(text: &str) -> bool {
    text.contains(':') && text.bytes().all(|b| b == b':' || b.is_ascii_hexdigit())
}

/// Parses `text` as an address if it looks like one; `Err` when it looks like one but is not.
fn parse_address(text: &str) -> Result<Option<Ip>, String> {
    if looks_like_ipv4(text) {
        let mut bits: u128 = 0;
        for part in text.split('.') {
            let octet: u32 = part
                .parse()
                .ok()
                .filter(|o| *o <= 255)
                .ok_or_else(|| format!("Invalid IP address: {text}"))?;
            bits = (bits << 8) | u128::from(octet);
        }
        return Ok(Some(Ip { v6: false, bits }));
    }
    if looks_like_ipv6(text) {
        let addr: Ipv6Addr = text
            .parse()
            .map_err(|_| format!("Invalid IP address: {text}"))?;
        if let Some(v4) = addr.to_ipv4_mapped() {
            return Ok(Some(Ip {
                v6: false,
                bits: u128::from(u32::from(v4)),
            }));
        }
        return Ok(Some(Ip {
            v6: true,
            bits: u128::from(addr),
        }));
    }
    Ok(None)
}

/// The address `text` denotes, if it is a well-formed IPv4 or IPv6 address.
pub(crate) fn parse_ip(text: &str) -> Option<Ip> {
    parse_address(text).ok().flatten()
}

/// Parses `a.b.c.d/n` or `v6::addr/n`, with event-ruler's error wording.
pub(crate) fn parse_cidr(text: &str) -> Result<IpRange, String> {
    let parts: Vec<&str> = text.split('/').collect();
    // Java's split drops trailing empty strings, so `10.0.0.0/` has one part there too.
    let parts: &[&str] = match parts.as_slice() {
        [ip, ""] => std::slice::from_ref(ip),
        other => other,
    };
    let [ip, mask] = parts else {
        return Err("Malformed CIDR, one '/' required".to_owned());
    };
    let mask: i32 = mask
        .parse()
        .map_err(|_| "Malformed CIDR, mask bits must be an integer".to_owned())?;
    if mask < 0 {
        return Err("Malformed CIDR, mask bits must not be negative".to_owned());
    }
    let ip = parse_address(ip)?.ok_or_else(|| format!("Nonstandard IP address: {ip}"))?;
    let width: u32 = if ip.v6 { 128 } else { 32 };
    let mask = mask.unsigned_abs();
    if mask >= width {
        return Err(if ip.v6 {
            "IPv6 mask bits must be < 128".to_owned()
        } else {
            "IPv4 mask bits must be < 32".to_owned()
        });
    }
    let variable = width - mask;
    let host_bits: u128 = (1u128 << variable) - 1;
    Ok(IpRange {
        v6: ip.v6,
        low: ip.bits & !host_bits,
        high: ip.bits | host_bits,
    })
}

impl IpRange {
    /// Whether the address text `value` falls inside the range.
    pub(crate) fn contains(&self, value: &str) -> bool {
        parse_ip(value)
            .is_some_and(|ip| ip.v6 == self.v6 && self.low <= ip.bits && ip.bits <= self.high)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_blocks() {
        let range = parse_cidr("10.0.0.0/24").expect("valid");
        assert!(range.contains("10.0.0.255"));
        assert!(!range.contains("10.0.1.0"));
        assert!(!range.contains("not an ip"));
        assert!(parse_cidr("10.0.0.1/32").is_err());
        assert!(parse_cidr("300.1.1.1/8").is_err());
        assert!(parse_cidr("10.0.0.0/-1").is_err());
        assert!(parse_cidr("foo").is_err());
    }

    #[test]
    fn ipv6_blocks() {
        let range = parse_cidr("2001:db8::/32").expect("valid");
        assert!(range.contains("2001:db8:ffff::1"));
        assert!(!range.contains("2001:db9::1"));
        assert!(!range.contains("10.0.0.1"));
        assert!(parse_cidr("2001:db8::1/128").is_err());
        assert!(parse_cidr("xxxx:db8::/64").is_err());
    }

    #[test]
    fn addresses_compare_by_value() {
        assert_eq!(parse_ip("2001:db8::1"), parse_ip("2001:0DB8:0:0:0:0:0:1"));
        assert_eq!(parse_ip("::ffff:10.0.0.1"), None);
        assert_eq!(parse_ip("::ffff:a00:1"), parse_ip("10.0.0.1"));
    }
}
