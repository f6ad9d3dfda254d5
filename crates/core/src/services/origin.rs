//! Which handler modules a bridge imports. A service's handler module runs with the page's
//! privileges — in a dedicated worker as much as on the page: the same origin, cookies, storage
//! and network access; a worker is not a sandbox — so a configuration loaded "from a file or a
//! remote" must not be able to name any code it likes. The bridge accepts `http(s)` modules from
//! the page's own origin and from the origins the app lists (`serviceOrigins`); anything else (a
//! `data:` or `blob:` URL, another origin) is refused when the service is registered, before
//! anything is imported.
//!
//! ```
//! # use worker_bridge_core::services::origin::{check_module_url, parse_origin};
//! let cdn = [parse_origin("https://CDN.example.com:443").unwrap()]; // "https://cdn.example.com"
//! let page = Some("https://app.example.com");
//! assert!(check_module_url("https://app.example.com/kv.service.js", page, &[]).is_ok());
//! assert!(check_module_url("https://cdn.example.com/kv.service.js", page, &cdn).is_ok());
//! assert!(check_module_url("data:text/javascript,export%20function%20onMessage(){}", page, &cdn).is_err());
//! ```

use crate::error::Error;

/// An absolute URL's parts that make its origin.
struct Parts<'a> {
    scheme: String,
    host: String,
    port: Option<u16>,
    /// Anything after the authority: path, query, fragment.
    rest: &'a str,
    userinfo: bool,
}

impl Parts<'_> {
    /// `scheme://host[:port]`, lowercase, without the scheme's default port.
    fn origin(&self) -> String {
        let default = match self.scheme.as_str() {
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        };
        match self.port {
            Some(port) if Some(port) != default => format!("{}://{}:{port}", self.scheme, self.host),
            _ => format!("{}://{}", self.scheme, self.host),
        }
    }
}

/// Splits an absolute `http(s)` URL; `None` for any other scheme or a malformed authority.
fn split(url: &str) -> Option<Parts<'_>> {
    let (scheme, after) = url.split_once(':')?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let after = after.strip_prefix("//")?;
    let end = after.find(['/', '?', '#', '\\']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((_, host_port)) => (true, host_port),
        None => (false, authority),
    };
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        let (inside, after) = v6.split_once(']')?;
        if inside.is_empty() || !inside.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
            return None;
        }
        let port = if after.is_empty() { "" } else { after.strip_prefix(':')? };
        (format!("[{inside}]"), port)
    } else {
        let (host, port) = host_port.split_once(':').unwrap_or((host_port, ""));
        let name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
        if host.is_empty() || !host.chars().all(name) {
            return None;
        }
        (host.to_owned(), port)
    };
    let port = match port {
        "" => None,
        digits if digits.chars().all(|c| c.is_ascii_digit()) => Some(digits.parse::<u16>().ok()?),
        _ => return None,
    };
    Some(Parts { scheme, host: host.to_ascii_lowercase(), port, rest, userinfo })
}

/// The origin of `url` (absolute) if it is an `http(s)` URL: `https://host[:port]`, lowercase,
/// without a default port.
pub fn http_origin(url: &str) -> Option<String> {
    split(url).map(|p| p.origin())
}

/// `entry` (a `serviceOrigins` item) as the origin it names, normalised as [`http_origin`] does.
///
/// # Errors
/// `ValidationError` unless `entry` is `http(s)://host[:port]` and nothing else (no path, not
/// even `/`; no user name).
pub fn parse_origin(entry: &str) -> Result<String, Error> {
    match split(entry) {
        Some(parts) if parts.rest.is_empty() && !parts.userinfo => Ok(parts.origin()),
        _ => Err(Error::validation(format!(
            "serviceOrigins lists origins such as \"https://cdn.example.com\" (http or https, a host, \
             an optional port, no path); got {entry:?}"
        ))),
    }
}

/// Whether a handler module at `url` (absolute, as the page resolved it) may be imported: an
/// `http(s)` URL of `page_origin` (`None` when the page's origin is opaque) or of one of `allowed`
/// (origins as [`parse_origin`] returns them).
///
/// # Errors
/// `ValidationError` naming the URL's scheme or origin and what is accepted.
pub fn check_module_url(url: &str, page_origin: Option<&str>, allowed: &[String]) -> Result<(), Error> {
    let Some(origin) = http_origin(url) else {
        let scheme = url.split_once(':').map_or("this", |(s, _)| s);
        return Err(Error::validation(format!(
            "a service module must be an http(s) URL; a {scheme}: URL runs with the page's privileges and is refused"
        )));
    };
    if page_origin == Some(origin.as_str()) || allowed.contains(&origin) {
        return Ok(());
    }
    let page = page_origin.map_or_else(|| "the page's origin is opaque".to_owned(), |p| format!("the page's is {p}"));
    Err(Error::validation(format!(
        "service modules are imported only from the page's origin or one listed in WorkerBridge.create({{ \
         serviceOrigins }}); {origin} is neither ({page})"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_of_http_urls() {
        for (url, origin) in [
            ("https://a.example.com/x/y.js?q#f", Some("https://a.example.com")),
            ("HTTPS://A.Example.COM:443/x.js", Some("https://a.example.com")),
            ("http://a.example.com:80/", Some("http://a.example.com")),
            ("http://127.0.0.1:8080/s.js", Some("http://127.0.0.1:8080")),
            ("https://user:pw@a.example.com/x.js", Some("https://a.example.com")),
            ("http://[::1]:3000/x.js", Some("http://[::1]:3000")),
            ("https://a.example.com", Some("https://a.example.com")),
            ("https://a.example.com?x", Some("https://a.example.com")),
            ("data:text/javascript,export%20const%20x=1", None),
            ("blob:https://a.example.com/6f1c2a9e", None),
            ("javascript:void 0", None),
            ("file:///etc/x.js", None),
            ("ws://a.example.com/x", None),
            ("https:a.example.com/x.js", None),
            ("https://", None),
            ("https://a.example.com:99999/", None),
            ("https://a b/", None),
            ("relative/x.js", None),
        ] {
            assert_eq!(http_origin(url).as_deref(), origin, "{url}");
        }
    }

    #[test]
    fn service_origins_entries_are_origins_only() {
        assert_eq!(parse_origin("https://cdn.example.com").unwrap(), "https://cdn.example.com");
        assert_eq!(parse_origin("HTTPS://CDN.example.com:443").unwrap(), "https://cdn.example.com");
        assert_eq!(parse_origin("http://localhost:8080").unwrap(), "http://localhost:8080");
        for bad in [
            "https://cdn.example.com/",
            "https://cdn.example.com/lib/",
            "https://cdn.example.com?x",
            "https://u@cdn.example.com",
            "cdn.example.com",
            "*",
            "",
            "https://",
            "ftp://cdn.example.com",
            "null",
        ] {
            let e = parse_origin(bad).unwrap_err();
            assert_eq!(e.kind(), crate::error::ErrorKind::Validation, "{bad}");
            assert!(e.message().contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn modules_come_from_the_page_origin_or_a_listed_one() {
        let page = Some("http://127.0.0.1:8000");
        let listed = vec![parse_origin("https://cdn.example.com").unwrap()];
        let accepted = |url: &str, page: Option<&str>| check_module_url(url, page, &listed).is_ok();
        assert!(accepted("http://127.0.0.1:8000/snippets/x/counter.service.js", page));
        assert!(accepted("https://cdn.example.com/lib/kv.service.js", page));
        assert!(accepted("https://cdn.example.com:443/kv.service.js", page));
        assert!(!accepted("http://127.0.0.1:8001/x.js", page), "another port");
        assert!(!accepted("https://127.0.0.1:8000/x.js", page), "another scheme");
        assert!(!accepted("http://cdn.example.com/x.js", page));
        assert!(!accepted("https://cdn.example.com.evil.example/x.js", page));
        assert!(!accepted("https://cdn.example.com@evil.example/x.js", page), "a user name is not a host");
        assert!(!accepted("blob:http://127.0.0.1:8000/6f1c2a9e", page), "same origin, but a blob");
        assert!(!accepted("data:text/javascript,export%20function%20onMessage(){}", page));
        // An opaque page origin (a sandboxed frame, file:): only listed origins.
        assert!(!accepted("http://127.0.0.1:8000/x.js", None));
        assert!(accepted("https://cdn.example.com/x.js", None));
        let message = check_module_url("data:text/javascript,x", page, &listed).unwrap_err().to_string();
        assert!(message.starts_with("ValidationError: ") && message.contains("data:"), "{message}");
        let message = check_module_url("https://evil.example/x.js", page, &listed).unwrap_err().to_string();
        assert!(message.contains("https://evil.example") && message.contains("serviceOrigins"), "{message}");
    }
}
