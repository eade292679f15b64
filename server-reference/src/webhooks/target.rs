//! The URL of a subscription: its shape, the organization's host allow-list, and the
//! address checks at save time (repeated at every send: a save-time answer is never trusted).

use breeze_core::ssrf::{GuardedClient, HostAllowList, SsrfError, Url};

/// Longest URL accepted.
pub const MAX_URL: usize = 2048;

/// Why a target is refused (stable codes; never the URL itself, which may carry a token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not a URL, too long, not `https`, with credentials or a fragment.
    #[error("invalid webhook url: {0}")]
    Shape(&'static str),
    /// The host is not on the organization's allow-list.
    #[error("host not on the organization's allow-list")]
    HostNotAllowed,
    /// The address checks refused it.
    #[error(transparent)]
    Ssrf(#[from] SsrfError),
}

impl TargetError {
    /// A stable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Shape(code) => code,
            Self::HostNotAllowed => "host_not_allowed",
            Self::Ssrf(SsrfError::TooManyRedirects { .. }) => "redirect_refused",
            Self::Ssrf(e) => e.code(),
        }
    }
}

/// A checked URL and its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL.
    pub url: Url,
    /// Its host as written (lowercase; IPv6 in brackets).
    pub host: String,
}

/// Checks the shape of `raw`: `https`, a host, no user name or password, no fragment, at
/// most [`MAX_URL`] bytes.
///
/// # Errors
/// [`TargetError::Shape`].
pub fn parse(raw: &str) -> Result<Target, TargetError> {
    if raw.len() > MAX_URL {
        return Err(TargetError::Shape("url_too_long"));
    }
    let url = Url::parse(raw).map_err(|_| TargetError::Shape("invalid_url"))?;
    if url.scheme() != "https" {
        return Err(TargetError::Shape("scheme_not_allowed"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::Shape("credentials_in_url"));
    }
    if url.fragment().is_some() {
        return Err(TargetError::Shape("fragment_in_url"));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or(TargetError::Shape("missing_host"))?
        .to_ascii_lowercase();
    Ok(Target { url, host })
}

/// Checks `target` against the organization's allow-list (if it has one).
///
/// # Errors
/// [`TargetError::HostNotAllowed`]; an unparsable stored list refuses everything.
pub fn check_allowed(target: &Target, allowed: Option<&[String]>) -> Result<(), TargetError> {
    let Some(entries) = allowed else {
        return Ok(());
    };
    match HostAllowList::parse(entries) {
        Ok(list) if list.allows(&target.host) => Ok(()),
        _ => Err(TargetError::HostNotAllowed),
    }
}

/// The save-time check: shape, allow-list, and every address the host resolves to now.
///
/// # Errors
/// [`TargetError`].
pub async fn check_at_save(
    client: &GuardedClient,
    raw: &str,
    allowed: Option<&[String]>,
) -> Result<Target, TargetError> {
    let target = parse(raw)?;
    check_allowed(&target, allowed)?;
    client.preflight(target.url.as_str()).await?;
    Ok(target)
}

/// The URL as the API shows it: scheme, host, port and path; a query string (which may
/// carry a receiver's token) is replaced by `?…`.
#[must_use]
pub fn display(url: &Url) -> String {
    let mut shown = url.clone();
    let had_query = shown.query().is_some();
    shown.set_query(None);
    let mut s = shown.to_string();
    if had_query {
        s.push_str("?…");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_checked_with_stable_codes() {
        let code = |raw: &str| parse(raw).err().map(|e| e.code());
        assert_eq!(code("https://hooks.example.com/a?b=c"), None);
        assert_eq!(
            code("http://hooks.example.com/"),
            Some("scheme_not_allowed")
        );
        assert_eq!(code("ftp://hooks.example.com/"), Some("scheme_not_allowed"));
        assert_eq!(
            code("https://u:p@hooks.example.com/"),
            Some("credentials_in_url")
        );
        assert_eq!(
            code("https://hooks.example.com/#x"),
            Some("fragment_in_url")
        );
        assert_eq!(code("not a url"), Some("invalid_url"));
        let long = format!("https://a.com/{}", "x".repeat(MAX_URL));
        assert_eq!(code(&long), Some("url_too_long"));
    }

    #[test]
    fn the_allow_list_narrows_hosts() {
        let t = parse("https://hooks.example.com/x").unwrap();
        assert!(check_allowed(&t, None).is_ok());
        let list = vec!["*.example.com".to_owned()];
        assert!(check_allowed(&t, Some(&list)).is_ok());
        let other = vec!["siem.example.org".to_owned()];
        assert_eq!(
            check_allowed(&t, Some(&other)).unwrap_err().code(),
            "host_not_allowed"
        );
    }

    #[test]
    fn the_display_form_hides_the_query() {
        let t = parse("https://hooks.example.com:8443/in?token=s3cret").unwrap();
        assert_eq!(display(&t.url), "https://hooks.example.com:8443/in?…");
    }
}
