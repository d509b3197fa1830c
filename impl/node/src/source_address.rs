//! The `source-address` critical option of OpenSSH certificates (PROTOCOL.certkeys): a
//! comma-separated list of addresses and CIDR blocks the certificate may be used from.
//!
//! The auth service puts the client address it saw there (SPEC HL-21), so a certificate
//! stolen from the client cannot be used from elsewhere. A list that does not parse admits
//! nobody: a critical option that is not understood must fail closed.

use std::net::IpAddr;

/// Most entries a `source-address` list may hold; OpenSSH's own limit on address lists in
/// certificates is of the same order, and the auth service only ever writes one.
pub const SOURCE_ADDRESS_ENTRIES_MAX: usize = 64;

/// One address block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// Why a `source-address` value was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SourceAddressError {
    #[error("empty source-address list")]
    Empty,
    #[error("source-address list has more than {SOURCE_ADDRESS_ENTRIES_MAX} entries")]
    TooLong,
    #[error("bad source-address entry `{0}`")]
    BadEntry(String),
}

impl Cidr {
    /// Parses `a.b.c.d`, `a.b.c.d/n`, an IPv6 address or an IPv6 block.
    pub fn parse(entry: &str) -> Result<Cidr, SourceAddressError> {
        let bad = || SourceAddressError::BadEntry(entry.to_string());
        let (addr, prefix) = match entry.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (entry, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Cidr { addr, prefix })
    }

    /// Whether `ip` is inside this block. IPv4-mapped IPv6 peers compare as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr.to_canonical(), ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(
                u128::from(u32::from(net)) << 96,
                u128::from(u32::from(ip)) << 96,
                self.prefix,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(u128::from(net), u128::from(ip), self.prefix)
            }
            _ => false,
        }
    }
}

/// Parses a whole `source-address` value.
pub fn parse_list(value: &str) -> Result<Vec<Cidr>, SourceAddressError> {
    let entries: Vec<&str> = value.split(',').map(str::trim).collect();
    if entries.len() > SOURCE_ADDRESS_ENTRIES_MAX {
        return Err(SourceAddressError::TooLong);
    }
    if entries.iter().all(|e| e.is_empty()) {
        return Err(SourceAddressError::Empty);
    }
    entries.into_iter().map(Cidr::parse).collect()
}

/// Whether `peer` may use a certificate whose `source-address` is `value`.
pub fn permits(value: &str, peer: IpAddr) -> Result<bool, SourceAddressError> {
    Ok(parse_list(value)?.iter().any(|c| c.contains(peer)))
}

/// Compares the top `prefix` bits of two 128-bit numbers.
fn prefix_eq(a: u128, b: u128, prefix: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let mask = u128::MAX << (128 - u32::from(prefix));
    a & mask == b & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_single_address_admits_only_itself() {
        assert_eq!(permits("10.0.0.5", ip("10.0.0.5")), Ok(true));
        assert_eq!(permits("10.0.0.5", ip("10.0.0.6")), Ok(false));
    }

    #[test]
    fn a_block_admits_its_members_and_nothing_else() {
        assert_eq!(permits("192.168.1.0/24", ip("192.168.1.77")), Ok(true));
        assert_eq!(permits("192.168.1.0/24", ip("192.168.2.1")), Ok(false));
        assert_eq!(permits("0.0.0.0/0", ip("8.8.8.8")), Ok(true));
        assert_eq!(permits("fd00::/8", ip("fd12::1")), Ok(true));
        assert_eq!(permits("fd00::/8", ip("fe80::1")), Ok(false));
    }

    #[test]
    fn any_entry_of_a_list_may_match() {
        assert_eq!(permits("10.0.0.1, 127.0.0.1/32", ip("127.0.0.1")), Ok(true));
    }

    #[test]
    fn ipv4_mapped_peers_compare_as_ipv4() {
        assert_eq!(permits("127.0.0.1", ip("::ffff:127.0.0.1")), Ok(true));
    }

    #[test]
    fn malformed_lists_are_refused_rather_than_ignored() {
        assert!(permits("", ip("127.0.0.1")).is_err());
        assert!(permits("127.0.0.1/33", ip("127.0.0.1")).is_err());
        assert!(permits("localhost", ip("127.0.0.1")).is_err());
        assert!(permits("127.0.0.1,", ip("127.0.0.1")).is_err());
    }
}
