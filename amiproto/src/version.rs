//! The server's banner line and the AMI version in it.

use std::fmt;

use bytes::Bytes;

use crate::decode::BANNER_PREFIX;

/// An AMI protocol version, as the banner gives it: `1.1`, `2.10.6`, `11.0.0`.
///
/// This is the *manager* version, not Asterisk's: `11.0.0` is Asterisk 22,
/// `2.10.6` is Asterisk 13.
///
/// Deliberately exhaustive: a version is these three numbers, compared in
/// this order, and a literal is the plain way to write one to compare with:
///
/// ```
/// use amiproto::AmiVersion;
///
/// let v = AmiVersion::parse(b"2.10.6").unwrap();
/// assert!(v < AmiVersion { major: 11, minor: 0, patch: Some(0) });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AmiVersion {
    /// First number.
    pub major: u16,
    /// Second number.
    pub minor: u16,
    /// Third number, absent on old two-part versions such as `1.1`.
    pub patch: Option<u16>,
}

impl AmiVersion {
    /// Parse `X.Y` or `X.Y.Z`.
    pub fn parse(text: &[u8]) -> Option<AmiVersion> {
        let text = std::str::from_utf8(text).ok()?;
        let mut parts = text.split('.');
        let num = |s: Option<&str>| -> Option<u16> {
            let s = s?;
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        };
        let major = num(parts.next())?;
        let minor = num(parts.next())?;
        let patch = match parts.next() {
            None => None,
            Some(p) => Some(num(Some(p))?),
        };
        if parts.next().is_some() {
            return None;
        }
        Some(AmiVersion {
            major,
            minor,
            patch,
        })
    }

    /// Whether `Command` answers with the legacy `Response: Follows` raw body
    /// (AMI < 3, Asterisk ≤ 13) rather than `Output:` headers.
    pub fn uses_follows_command_output(&self) -> bool {
        self.major < 3
    }
}

impl fmt::Display for AmiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if let Some(p) = self.patch {
            write!(f, ".{p}")?;
        }
        Ok(())
    }
}

/// The server's greeting, `Asterisk Call Manager/<version>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Banner {
    line: Bytes,
    version: Option<AmiVersion>,
}

impl Banner {
    /// Parse a banner line (without its line terminator).
    pub fn parse(line: Bytes) -> Banner {
        let version = line
            .strip_prefix(BANNER_PREFIX)
            .and_then(|v| AmiVersion::parse(v.trim_ascii_end()));
        Banner { line, version }
    }

    /// The whole line as received, terminator excluded.
    pub fn raw(&self) -> &Bytes {
        &self.line
    }

    /// The text after `Asterisk Call Manager/`.
    pub fn version_str(&self) -> String {
        String::from_utf8_lossy(self.line.strip_prefix(BANNER_PREFIX).unwrap_or(&self.line))
            .into_owned()
    }

    /// The parsed version, when it has the usual `X.Y[.Z]` form.
    pub fn version(&self) -> Option<AmiVersion> {
        self.version
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_two_and_three_parts() {
        let v = AmiVersion::parse(b"11.0.0").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (11, 0, Some(0)));
        assert_eq!(v.to_string(), "11.0.0");
        let v = AmiVersion::parse(b"1.1").unwrap();
        assert_eq!(v.patch, None);
        assert!(v.uses_follows_command_output());
        assert!(AmiVersion::parse(b"2.10.6")
            .unwrap()
            .uses_follows_command_output());
        assert!(!AmiVersion::parse(b"11.0.0")
            .unwrap()
            .uses_follows_command_output());
        for bad in [&b"1"[..], b"a.b", b"1.2.3.4", b"1..2", b"", b"1.2."] {
            assert_eq!(AmiVersion::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn banner_keeps_raw_and_unparsable_versions() {
        let b = Banner::parse(Bytes::from_static(b"Asterisk Call Manager/11.0.0"));
        assert_eq!(b.version().unwrap().major, 11);
        assert_eq!(b.version_str(), "11.0.0");
        let b = Banner::parse(Bytes::from_static(b"Asterisk Call Manager/weird"));
        assert_eq!(b.version(), None);
        assert_eq!(b.version_str(), "weird");
    }
}
