//! The dashboard's files (issue 14, first part): served at `/ui/` from the
//! binary, public (their data needs the token), every file the page loads
//! answering with its type, nothing fetched from elsewhere, and a content
//! security policy that keeps it so.

use crate::helpers::*;
use actix_web::http::Method;
use hookgate::domain::Secret;

const TOKEN: &str = "dashboard-admin-token-0123456789abcdef";

/// The `/ui/…` files `index.html` names.
fn assets(index: &str) -> Vec<String> {
    index
        .split(['"', '\''])
        .filter(|part| part.starts_with("/ui/assets/"))
        .map(str::to_owned)
        .collect()
}

#[actix_rt::test]
async fn the_dashboard_is_served_from_the_binary_without_the_token() {
    let mut app = spawn_app_with(Backend::Sqlite, |s| {
        s.admin_token = Some(Secret::new(TOKEN.to_owned()))
    })
    .await;
    app.admin_token = None; // as a browser that has not signed in yet

    let bare = app.get("/ui").await;
    assert_eq!(bare.status, 308);
    assert_eq!(bare.header("location"), Some("/ui/"));

    let index = app.get("/ui/").await;
    assert_eq!(index.status, 200, "{}", index.text());
    assert!(index
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let csp = index.header("content-security-policy").unwrap().to_owned();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let html = index.text();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing from elsewhere: {html}"
    );

    let files = assets(&html);
    assert!(files.iter().any(|f| f.ends_with(".js")), "{files:?}");
    assert!(files.iter().any(|f| f.ends_with(".css")), "{files:?}");
    for file in &files {
        let got = app.get(file).await;
        assert_eq!(got.status, 200, "{file}");
        let kind = got.header("content-type").unwrap();
        let expected = if file.ends_with(".js") {
            "javascript"
        } else {
            "text/css"
        };
        assert!(kind.contains(expected), "{file}: {kind}");
        assert!(got.header("cache-control").unwrap().contains("immutable"));
        assert!(!got.body.is_empty());
    }
    assert_eq!(app.get("/ui/assets/missing.js").await.status, 404);

    // The page is public; what it shows is not.
    assert_eq!(app.get("/agents").await.status, 401);
    let signed_in = app
        .call(Method::GET, "/agents", &[("x-api-key", TOKEN)], "")
        .await;
    assert_eq!(signed_in.status, 200);
}
