//! The SSRF guard's decision: may shophook connect to this address?
//!
//! Pure: addresses in, verdict out. The delivery worker resolves a destination's
//! host once, asks [`TargetPolicy::check`] about every address, and connects only to
//! an address that passed, so a DNS answer cannot change between check and connect.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16, fc00::/7.
    Private,
    /// 169.254/16, fe80::/10 (cloud metadata lives here).
    LinkLocal,
    /// 100.64/10, carrier-grade NAT.
    Cgnat,
    /// 224/4, ff00::/8.
    Multicast,
    /// 0.0.0.0/8, ::.
    Unspecified,
    /// Broadcast, documentation, benchmarking, reserved (240/4) and other
    /// special-purpose ranges that are never a merchant's server.
    Reserved,
    /// `::ffff:a.b.c.d` and `::a.b.c.d`: an IPv4 address written as IPv6. No
    /// merchant's server is addressed that way; it is a classic guard bypass.
    Ipv4Mapped,
}

impl AddressClass {
    /// Human name used in errors.
    pub fn describe(self) -> &'static str {
        match self {
            AddressClass::Loopback => "a loopback address",
            AddressClass::Private => "a private address",
            AddressClass::LinkLocal => "a link-local address",
            AddressClass::Cgnat => "a carrier-grade NAT address",
            AddressClass::Multicast => "a multicast address",
            AddressClass::Unspecified => "an unspecified address",
            AddressClass::Reserved => "a reserved address",
            AddressClass::Ipv4Mapped => "an IPv4 address written as IPv6",
        }
    }
}

/// A refused destination address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("host resolves to {} ({addr}); allowed only with --allow-private-targets or --allow-cidr", class.describe())]
pub struct Refused {
    /// The address.
    pub addr: IpAddr,
    /// Its class.
    pub class: AddressClass,
}

/// The server's policy, from `--allow-private-targets` and `--allow-cidr`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// Allow every address (development and tests).
    pub allow_private: bool,
    /// Allow these ranges even though they are special-purpose.
    pub allow_cidrs: Vec<IpNet>,
}

impl TargetPolicy {
    /// Verdict for one address.
    pub fn check(&self, addr: IpAddr) -> Result<(), Refused> {
        let Some(class) = classify(addr) else {
            return Ok(());
        };
        if self.allow_private
            || self
                .allow_cidrs
                .iter()
                .any(|net| net.contains(&addr) || canonical(addr).is_some_and(|c| net.contains(&c)))
        {
            return Ok(());
        }
        Err(Refused { addr, class })
    }
}

/// An IPv6 address that embeds an IPv4 one (mapped, compatible, NAT64, 6to4) as
/// that IPv4 address, so `::ffff:127.0.0.1` is judged as 127.0.0.1.
fn canonical(addr: IpAddr) -> Option<IpAddr> {
    let IpAddr::V6(v6) = addr else { return None };
    let s = v6.segments();
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(IpAddr::V4(v4));
    }
    // ::a.b.c.d (deprecated IPv4-compatible), but not :: and ::1
    if s[..6] == [0; 6] && (s[6] != 0 || s[7] > 1) {
        return Some(IpAddr::V4(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        )));
    }
    // 64:ff9b::/96 NAT64
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(IpAddr::V4(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        )));
    }
    // 2002::/16 6to4
    if s[0] == 0x2002 {
        return Some(IpAddr::V4(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        )));
    }
    None
}

/// `::ffff:a.b.c.d` (mapped) or `::a.b.c.d` (compatible).
fn is_mapped(addr: IpAddr) -> bool {
    let IpAddr::V6(v6) = addr else { return false };
    v6.segments()[..5] == [0; 5] && matches!(v6.segments()[5], 0 | 0xffff)
}

/// The special-purpose class of an address, or `None` for a public one. An IPv6
/// address embedding an IPv4 one is judged as that address; written as mapped or
/// compatible IPv6 it is refused even when the IPv4 address is public.
pub fn classify(addr: IpAddr) -> Option<AddressClass> {
    if let Some(v4) = canonical(addr) {
        return classify(v4).or_else(|| is_mapped(addr).then_some(AddressClass::Ipv4Mapped));
    }
    match addr {
        IpAddr::V4(a) => classify_v4(a),
        IpAddr::V6(a) => classify_v6(a),
    }
}

fn classify_v4(a: Ipv4Addr) -> Option<AddressClass> {
    let o = a.octets();
    Some(match o {
        [0, ..] => AddressClass::Unspecified,
        [127, ..] => AddressClass::Loopback,
        [10, ..] => AddressClass::Private,
        [172, b, ..] if (16..=31).contains(&b) => AddressClass::Private,
        [192, 168, ..] => AddressClass::Private,
        [169, 254, ..] => AddressClass::LinkLocal,
        [100, b, ..] if (64..=127).contains(&b) => AddressClass::Cgnat,
        [a, ..] if (224..=239).contains(&a) => AddressClass::Multicast,
        [255, 255, 255, 255] => AddressClass::Reserved,
        [a, ..] if a >= 240 => AddressClass::Reserved,
        [192, 0, 0, _] | [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _] => {
            AddressClass::Reserved
        }
        [198, b, ..] if b == 18 || b == 19 => AddressClass::Reserved,
        [192, 88, 99, _] => AddressClass::Reserved,
        _ => return None,
    })
}

fn classify_v6(a: Ipv6Addr) -> Option<AddressClass> {
    let s = a.segments();
    Some(match s {
        _ if a.is_unspecified() => AddressClass::Unspecified,
        _ if a.is_loopback() => AddressClass::Loopback,
        [x, ..] if x & 0xfe00 == 0xfc00 => AddressClass::Private,
        [x, ..] if x & 0xffc0 == 0xfe80 => AddressClass::LinkLocal,
        [x, ..] if x & 0xffc0 == 0xfec0 => AddressClass::Private, // deprecated site-local
        [x, ..] if x & 0xff00 == 0xff00 => AddressClass::Multicast,
        [0x2001, 0xdb8, ..] => AddressClass::Reserved,
        [0x100, 0, 0, 0, ..] => AddressClass::Reserved, // discard-only
        [0x2001, x, ..] if x < 0x200 => AddressClass::Reserved, // Teredo, benchmarking, ORCHID
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(policy: &TargetPolicy, addr: &str) -> Option<AddressClass> {
        policy.check(addr.parse().unwrap()).err().map(|r| r.class)
    }

    #[test]
    fn default_policy_refuses_special_ranges() {
        use AddressClass::*;
        let p = TargetPolicy::default();
        let table = [
            ("127.0.0.1", Some(Loopback)),
            ("127.255.1.2", Some(Loopback)),
            ("::1", Some(Loopback)),
            ("10.0.0.1", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("172.32.0.1", None),
            ("192.168.1.1", Some(Private)),
            ("169.254.169.254", Some(LinkLocal)),
            ("100.64.0.1", Some(Cgnat)),
            ("100.128.0.1", None),
            ("224.0.0.1", Some(Multicast)),
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(Unspecified)),
            ("::", Some(Unspecified)),
            ("255.255.255.255", Some(Reserved)),
            ("240.0.0.1", Some(Reserved)),
            ("192.0.2.10", Some(Reserved)),
            ("198.18.0.1", Some(Reserved)),
            ("fc00::1", Some(Private)),
            ("fd12:3456::1", Some(Private)),
            ("fe80::1", Some(LinkLocal)),
            ("ff02::1", Some(Multicast)),
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:10.0.0.1", Some(Private)),
            ("::ffff:169.254.169.254", Some(LinkLocal)),
            ("::127.0.0.1", Some(Loopback)),
            ("64:ff9b::a00:1", Some(Private)),
            ("2002:a9fe:a9fe::1", Some(LinkLocal)),
            ("2001:db8::1", Some(Reserved)),
            ("93.184.215.14", None),
            ("8.8.8.8", None),
            ("2606:4700::1111", None),
            ("::ffff:8.8.8.8", Some(Ipv4Mapped)),
            ("::8.8.8.8", Some(Ipv4Mapped)),
            ("64:ff9b::808:808", None),
            ("2002:808:808::1", None),
        ];
        for (addr, expect) in table {
            assert_eq!(verdict(&p, addr), expect, "{addr}");
        }
    }

    #[test]
    fn allow_flags() {
        let open = TargetPolicy {
            allow_private: true,
            allow_cidrs: vec![],
        };
        assert_eq!(verdict(&open, "10.0.0.1"), None);
        let cidr = TargetPolicy {
            allow_private: false,
            allow_cidrs: vec!["10.1.0.0/16".parse().unwrap()],
        };
        assert_eq!(verdict(&cidr, "10.1.2.3"), None);
        assert_eq!(verdict(&cidr, "::ffff:10.1.2.3"), None);
        assert_eq!(verdict(&cidr, "10.2.0.1"), Some(AddressClass::Private));
        assert_eq!(verdict(&cidr, "127.0.0.1"), Some(AddressClass::Loopback));
        let msg = TargetPolicy::default()
            .check("10.0.0.5".parse().unwrap())
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "host resolves to a private address (10.0.0.5); allowed only with --allow-private-targets or --allow-cidr"
        );
    }
}
