//! Host allow-lists: which host names an organization lets its webhooks reach (SPEC 13).
//!
//! An entry is a lowercase DNS name (`hooks.example.com`) matching exactly, or a wildcard
//! `*.example.com` matching any name below it (not `example.com` itself). IP literals are
//! written as they appear in a URL (`192.0.2.7`, `[2001:db8::1]`) and match exactly. The
//! list narrows what the address checks allow; it never widens them.

use super::policy::SsrfError;

/// Longest entry (a DNS name is at most 253 characters, plus `*.`).
pub const MAX_HOST_ENTRY: usize = 255;
/// Most entries in one list.
pub const MAX_HOST_ENTRIES: usize = 64;

/// A parsed host allow-list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostAllowList {
    entries: Vec<String>,
}

impl HostAllowList {
    /// Parses and normalises (lowercase, trimmed) entries.
    ///
    /// # Errors
    /// [`SsrfError::InvalidAllowEntry`] naming the first bad entry, or for too many.
    pub fn parse<I, S>(entries: I) -> Result<Self, SsrfError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.as_ref().trim().to_ascii_lowercase();
            if !valid_entry(&entry) || out.len() >= MAX_HOST_ENTRIES {
                return Err(SsrfError::InvalidAllowEntry {
                    entry: entry.chars().take(64).collect(),
                });
            }
            if !out.contains(&entry) {
                out.push(entry);
            }
        }
        Ok(Self { entries: out })
    }

    /// The normalised entries.
    #[must_use]
    pub fn entries(&self) -> &[String] {
        &self.entries
    }

    /// Whether `host` (as a URL carries it) is on the list.
    #[must_use]
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.entries
            .iter()
            .any(|entry| match entry.strip_prefix("*.") {
                Some(domain) => host
                    .strip_suffix(domain)
                    .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
                None => *entry == host,
            })
    }
}

fn valid_entry(entry: &str) -> bool {
    if entry.is_empty() || entry.len() > MAX_HOST_ENTRY {
        return false;
    }
    if let Some(v6) = entry.strip_prefix('[').and_then(|e| e.strip_suffix(']')) {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    let name = entry.strip_prefix("*.").unwrap_or(entry);
    !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_wildcard_entries_match_as_documented() {
        let list =
            HostAllowList::parse(["Hooks.Example.com", "*.siem.example", "192.0.2.7", "[::1]"])
                .unwrap();
        assert!(list.allows("hooks.example.com"));
        assert!(list.allows("HOOKS.example.com."));
        assert!(!list.allows("evil-hooks.example.com"));
        assert!(!list.allows("example.com"));
        assert!(list.allows("a.siem.example"));
        assert!(list.allows("a.b.siem.example"));
        assert!(!list.allows("siem.example"));
        assert!(!list.allows("xsiem.example"));
        assert!(list.allows("192.0.2.7"));
        assert!(!list.allows("192.0.2.8"));
        assert!(list.allows("[::1]"));
    }

    #[test]
    fn bad_entries_are_refused() {
        for bad in [
            "",
            "*.",
            "a..b",
            "-a.com",
            "a_b.com",
            "https://a.com",
            "a.com/x",
            "[zz]",
        ] {
            assert!(
                matches!(
                    HostAllowList::parse([bad]),
                    Err(SsrfError::InvalidAllowEntry { .. })
                ),
                "{bad}"
            );
        }
        let many: Vec<String> = (0..=MAX_HOST_ENTRIES)
            .map(|i| format!("h{i}.com"))
            .collect();
        assert!(HostAllowList::parse(many).is_err());
    }
}
