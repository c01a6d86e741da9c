//! `GET /ui`, `/ui/app.js`, `/ui/app.css`, `/ui/events.js`: the dashboard, embedded in the binary (no CDN, no build
//! step, nothing fetched at run time). The page draws what `GET /events` sends (`http/events.rs`) and
//! signs operator actions in the browser (`docs/dashboard.md`).

use super::respond::Response;

/// The page's three files, as shipped in `node/ui/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asset {
    /// `GET /ui`: the HTML.
    Page,
    /// `GET /ui/app.js`.
    Script,
    /// `GET /ui/app.css`.
    Style,
    /// `GET /ui/events.js`: the worker that holds the `/events` stream.
    Events,
}

/// Every asset with its content type and bytes (the size test reads this).
pub const ASSETS: [(Asset, &str, &str); 4] = [
    (
        Asset::Page,
        "text/html; charset=utf-8",
        include_str!("../../ui/index.html"),
    ),
    (
        Asset::Script,
        "text/javascript; charset=utf-8",
        include_str!("../../ui/app.js"),
    ),
    (
        Asset::Style,
        "text/css; charset=utf-8",
        include_str!("../../ui/app.css"),
    ),
    (
        Asset::Events,
        "text/javascript; charset=utf-8",
        include_str!("../../ui/events.js"),
    ),
];

/// Content-Security-Policy of the page: its own files and its own origin only, no inline script.
const CSP: &[u8] = b"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; worker-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Serves one asset.
pub fn handle(asset: Asset, resp: &mut Response) {
    let Some((_, content_type, text)) = ASSETS.iter().find(|(a, _, _)| *a == asset) else {
        return;
    };
    resp.header("Content-Type", content_type.as_bytes());
    resp.header("Cache-Control", b"no-cache");
    resp.header("X-Content-Type-Options", b"nosniff");
    resp.header("Content-Security-Policy", CSP);
    resp.body.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The budget: every asset of the page together at most 150 KB.
    #[test]
    fn the_page_and_its_assets_fit_in_150_kb() {
        let total: usize = ASSETS.iter().map(|(_, _, t)| t.len()).sum();
        assert!(total <= 150 * 1024, "{total} bytes");
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        for (_, _, text) in ASSETS {
            // XML namespace names are identifiers, not fetched.
            let text = text.replace("http://www.w3.org/", "");
            for banned in [
                "http://",
                "https://",
                "//cdn",
                "@import",
                "@font-face",
                "url(http",
            ] {
                assert!(!text.contains(banned), "{banned} in an asset");
            }
        }
        let page = ASSETS[0].2;
        assert!(page.contains("src=\"/ui/app.js\""));
        assert!(page.contains("href=\"/ui/app.css\""));
        assert!(
            !page.contains("<script>"),
            "no inline script (the CSP forbids it)"
        );
    }

    #[test]
    fn each_asset_is_served_with_its_type() {
        let mut r = Response::new();
        handle(Asset::Script, &mut r);
        assert_eq!(
            r.header_value("Content-Type"),
            Some(&b"text/javascript; charset=utf-8"[..])
        );
        assert!(r.header_value("Content-Security-Policy").is_some());
        assert!(!r.body.is_empty());
    }
}
