//! Twilio (issue 12): calls signed by the `twilio` package's
//! `RequestValidator` over the full public URL and the form parameters
//! (or, for JSON, the URL holding `bodySHA256`) are forwarded; each wrong
//! one gets its own 4xx and reaches nobody.

use crate::helpers::*;
use crate::signed_provider::SignedProvider;
use crate::vectors::{self, with};
use actix_web::http::Method;
use serde_json::json;

db_tests!(
    twilio_deliveries,
    twilio_signs_the_url_it_called,
    forwarding_headers_count_only_from_trusted_proxies
);

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const PUBLIC: &str = "https://hooks.example.com";

fn sign(token: &str, url: &str, body: &str) -> Vec<(String, String)> {
    vectors::sign_with(json!({"provider": "twilio", "secret": token, "url": url, "body": body}))
}

async fn twilio_deliveries(backend: Backend) {
    vectors::ready();
    let app = spawn_app_with(backend, |s| s.public_url = Some(PUBLIC.into())).await;
    let upstream = Upstream::start().await;
    app.register("agent-a", &upstream.url).await;
    let url = format!("{PUBLIC}/agents/forward/name/agent-a/hook");
    let body =
        "AccountSid=AC123&Body=Hello+there&From=%2B15551234567&To=%2B15557654321&MessageSid=SM1";
    let sign = |token: &str, body: &str| sign(token, &url, body);
    let delivered = SignedProvider {
        kind: "twilio",
        stored: TOKEN,
        signing: TOKEN,
        wrong_signing: "fedcba9876543210fedcba9876543210",
        sign: &sign,
        extra: &[FORM, ("i-twilio-idempotency-token", "idem-1")],
        body,
        altered: &body.replace("Hello", "Goodbye"),
        no_key: "No Twilio key found for agent ID {agent}.",
        bad_signature: "Invalid Twilio webhook signature",
    }
    .check(&app, &upstream)
    .await;
    assert_eq!(
        delivered.header("i-twilio-idempotency-token"),
        Some("idem-1")
    );
}

/// Without `HOOKGATE_PUBLIC_URL` the URL is the request's own; a call
/// signed for another URL, or a JSON body its `bodySHA256` does not
/// match, is refused.
async fn twilio_signs_the_url_it_called(backend: Backend) {
    vectors::ready();
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    app.register("agent-a", &upstream.url).await;
    app.create_key("agent-a", "account", "twilio", Some(TOKEN))
        .await;
    // A call to hookgate's own URL (the test client's Host) with `path`.
    let send = |path: String, headers: Vec<(String, String)>, content_type, body: String| {
        let app = &app;
        async move {
            let pairs = with(&headers, &[("content-type", content_type)]);
            app.forward(Method::POST, "agent-a", &path, &pairs, body)
                .await
        }
    };
    let own_url = |path: &str| app.url(&format!("/agents/forward/name/agent-a/{path}"));
    let form = "CallSid=CA1&Digits=1234&Digits=99";
    let signed = sign(TOKEN, &own_url("hook?From=query"), form);
    let reply = send("hook?From=query".into(), signed, FORM.1, form.into()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    let bad = "Invalid Twilio webhook signature";
    let elsewhere = sign(
        TOKEN,
        "https://elsewhere.example/agents/forward/name/agent-a/hook",
        form,
    );
    refused(&app, &with(&elsewhere, &[FORM]), form, 401, bad).await;

    let json_body = json!({"event": "call.completed", "sid": "CA1"}).to_string();
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(json_body.as_bytes()));
    let path = format!("hook?bodySHA256={hash}");
    let json_signed = sign(TOKEN, &own_url(&path), &json_body);
    let json = "application/json";
    let reply = send(path.clone(), json_signed.clone(), json, json_body.clone()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let altered = json_body.replace("CA1", "CA2");
    let reply = send(path, json_signed.clone(), json, altered).await;
    assert_eq!(reply.status, 401, "{}", reply.text());
    assert_eq!(reply.json()["detail"], bad);
    let unsigned_json = send("hook".into(), json_signed, json, json_body).await;
    assert_eq!(unsigned_json.status, 400, "{}", unsigned_json.text());
    assert_eq!(upstream.received().len(), 2);
}

/// Issue 26: without `HOOKGATE_PUBLIC_URL`, `X-Forwarded-Host`/`-Proto` and
/// `Forwarded` were believed from anyone, so a Twilio call signed for
/// another URL could be made to verify by naming that URL in them. Now
/// only the peers of `HOOKGATE_TRUSTED_PROXIES` are believed.
async fn forwarding_headers_count_only_from_trusted_proxies(backend: Backend) {
    vectors::ready();
    let upstream = Upstream::start().await;
    let direct = spawn_app(backend.clone()).await;
    let behind_proxy = spawn_app_with(backend, |s| {
        s.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    for app in [&direct, &behind_proxy] {
        app.register("agent-a", &upstream.url).await;
        app.create_key("agent-a", "account", "twilio", Some(TOKEN))
            .await;
    }
    let claimed = format!("{PUBLIC}/agents/forward/name/agent-a/hook");
    let spellings: [&[(&str, &str)]; 3] = [
        &[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "hooks.example.com"),
        ],
        &[("forwarded", "proto=https;host=hooks.example.com")],
        &[(
            "forwarded",
            "for=192.0.2.1;proto=https;host=\"hooks.example.com\"",
        )],
    ];
    for forwarding in spellings {
        let spoofed = send_form(&direct, &claimed, forwarding).await;
        assert_eq!(spoofed.status, 401, "{forwarding:?}: {}", spoofed.text());
        let own = direct.url("/agents/forward/name/agent-a/hook");
        let honest = send_form(&direct, &own, forwarding).await;
        assert_eq!(honest.status, 200, "{forwarding:?}: {}", honest.text());
        let proxied = send_form(&behind_proxy, &claimed, forwarding).await;
        assert_eq!(proxied.status, 200, "{forwarding:?}: {}", proxied.text());
    }
    assert_eq!(upstream.received().len(), 6);
}

/// A Twilio form call signed for `signed_for`, with `forwarding` headers.
async fn send_form(app: &TestApp, signed_for: &str, forwarding: &[(&str, &str)]) -> Reply {
    let form = "CallSid=CA1&Digits=1234";
    let signed = sign(TOKEN, signed_for, form);
    let mut pairs = with(&signed, &[FORM]);
    pairs.extend_from_slice(forwarding);
    app.forward(Method::POST, "agent-a", "hook", &pairs, form)
        .await
}
