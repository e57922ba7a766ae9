//! The web console's assets, embedded in the binary: a single page in plain HTML, CSS and
//! JavaScript (no build step, nothing fetched from elsewhere) that reads and operates a service
//! through its internal API.
//!
//! The local engine serves it at [`CONSOLE_PATH`] beside the API (`engine::api::serve`); the
//! `console --url` command of the CLI serves the same assets locally and forwards the page's
//! API calls to any engine through the CLI's transport. Pages are addressed by the URL's
//! fragment (`#/executions/{id}`, `#/workflows/{name}`, `#/dlq`), so the server serves only
//! these files.

/// Where the console lives: a contract, under the internal prefix.
pub const CONSOLE_PATH: &str = "/_eventual/console/";

/// One embedded file: its name under [`CONSOLE_PATH`], its content type, its bytes.
#[derive(Clone, Copy, Debug)]
pub struct Asset {
    /// The file's name (`index.html`, `console.js`, ...).
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its content.
    pub body: &'static [u8],
}

/// Every file of the console.
pub const ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("assets/index.html"),
    },
    Asset {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("assets/console.css"),
    },
    Asset {
        name: "console.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("assets/console.js"),
    },
    Asset {
        name: "diagram.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("assets/diagram.js"),
    },
];

/// The asset a path under [`CONSOLE_PATH`] names (`""` is the page itself), if any.
pub fn asset(name: &str) -> Option<&'static Asset> {
    let name = if name.is_empty() { "index.html" } else { name };
    ASSETS.iter().find(|asset| asset.name == name)
}

/// The headers every console response carries: the page loads only its own files and talks
/// only to its own origin, and no other site may frame it.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
         connect-src 'self'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("cache-control", "no-cache"),
];

/// The console's routes on an axum listener: [`CONSOLE_PATH`] and its files, and the path
/// without its final `/` redirected to it (the page's relative links need it). They need no
/// bearer token: the files hold no data, and the page asks for the token the API requires.
#[cfg(feature = "http")]
pub fn router() -> axum::Router {
    use axum::extract::Path;
    use axum::response::{IntoResponse, Redirect, Response};
    use axum::routing::get;

    async fn file(name: Option<Path<String>>) -> Response {
        let name = name.map(|Path(name)| name).unwrap_or_default();
        match asset(&name) {
            Some(asset) => {
                let mut headers = axum::http::HeaderMap::new();
                for (header, value) in
                    std::iter::once(&("content-type", asset.content_type)).chain(SECURITY_HEADERS)
                {
                    headers.insert(*header, axum::http::HeaderValue::from_static(value));
                }
                (headers, asset.body).into_response()
            }
            None => crate::engine::ServiceError::NoRoute(format!(
                "GET {CONSOLE_PATH}{name}: the console has no such file"
            ))
            .into_response(),
        }
    }

    let root = CONSOLE_PATH.trim_end_matches('/');
    axum::Router::new()
        .route(root, get(|| async { Redirect::permanent(CONSOLE_PATH) }))
        .route(CONSOLE_PATH, get(|| file(None)))
        .route(
            &format!("{CONSOLE_PATH}{{file}}"),
            get(|name| file(Some(name))),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_files_are_found_and_nothing_else() {
        assert_eq!(asset("").unwrap().name, "index.html");
        for file in ["index.html", "console.css", "console.js", "diagram.js"] {
            assert!(!asset(file).unwrap().body.is_empty(), "{file}");
        }
        for other in ["../Cargo.toml", "index.htm", "/index.html", "mod.rs"] {
            assert!(asset(other).is_none(), "{other}");
        }
    }

    #[test]
    fn the_page_loads_only_embedded_files() {
        let page = std::str::from_utf8(asset("").unwrap().body).unwrap();
        for file in ["console.css", "console.js", "diagram.js"] {
            assert!(page.contains(file), "index.html does not load {file}");
        }
        assert!(!page.contains("http://") && !page.contains("https://"));
    }
}
