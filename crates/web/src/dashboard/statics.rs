//! The dashboard's static files, compiled into the binary: nothing to install or build.
//! Vendored libraries carry their version in the name, so they can be cached for a year.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

const FILES: [(&str, &str, &[u8]); 10] = [
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/app.js"),
    ),
    (
        "analytics.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/analytics.css"),
    ),
    (
        "analytics.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/analytics.js"),
    ),
    (
        "vendor/htmx-2.0.11.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/vendor/htmx-2.0.11.min.js"),
    ),
    (
        "vendor/uPlot-1.6.32.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/vendor/uPlot-1.6.32.iife.min.js"),
    ),
    (
        "vendor/uPlot-1.6.32.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/vendor/uPlot-1.6.32.min.css"),
    ),
    (
        "loyalty-widget.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/loyalty-widget.js"),
    ),
    (
        "loyalty_page.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/loyalty_page.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../static/favicon.svg"),
    ),
];

pub async fn serve(Path(file): Path<String>) -> Response {
    let Some((name, content_type, bytes)) = FILES.iter().find(|(name, _, _)| *name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let cache = if name.starts_with("vendor/") {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    (
        [
            (header::CONTENT_TYPE, *content_type),
            (header::CACHE_CONTROL, cache),
        ],
        *bytes,
    )
        .into_response()
}
