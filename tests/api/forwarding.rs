//! Contract §3 step 3 and §4: what is forwarded, what comes back, and the
//! 502 / 504 / 413 failures.

use crate::helpers::*;
use actix_web::http::Method;
use bytes::Bytes;

db_tests!(
    headers_are_forwarded_minus_hop_by_hop_and_credentials,
    agent_answer_comes_back_unchanged,
    methods_paths_and_query_strings_are_kept,
    binary_and_large_bodies_arrive_byte_for_byte,
    unreachable_slow_and_oversized_calls_fail_cleanly,
    re_registration_with_a_new_url_moves_the_traffic,
);

async fn headers_are_forwarded_minus_hop_by_hop_and_credentials(backend: Backend) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    let key = agent_with_key(&app, "agent-a", &upstream).await;
    let headers = [
        ("x-agent-api-key", key.as_str()),
        ("x-custom", "kept"),
        ("x-multi", "one"),
        ("x-multi", "two"),
        ("content-type", "application/json"),
        ("user-agent", "GitHub-Hookshot/abc"),
        ("proxy-authorization", "Basic Zm9vOmJhcg=="),
        ("te", "trailers"),
        ("keep-alive", "timeout=5"),
    ];
    let reply = app
        .forward(Method::POST, "agent-a", "h", &headers, "{}")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let got = upstream.single();
    assert_eq!(got.header("x-custom"), Some("kept"));
    let multi: Vec<_> = got
        .headers
        .get_all("x-multi")
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(multi, ["one", "two"]);
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.header("user-agent"), Some("GitHub-Hookshot/abc"));
    for stripped in ["x-agent-api-key", "proxy-authorization", "te", "keep-alive"] {
        assert_eq!(
            got.header(stripped),
            None,
            "{stripped} must not reach the agent"
        );
    }
    assert!(
        !format!("{:?}", got.headers).contains(&key),
        "the caller's key never reaches the agent"
    );

    // An AgentKey authorization is a credential; other schemes pass through.
    let auth = format!("AgentKey {key}");
    app.forward(
        Method::POST,
        "agent-a",
        "h",
        &[("authorization", &auth)],
        "{}",
    )
    .await;
    assert_eq!(upstream.received()[1].header("authorization"), None);
    app.forward(
        Method::POST,
        "agent-a",
        "h",
        &[
            ("x-agent-api-key", &key),
            ("authorization", "Bearer agent-token"),
        ],
        "{}",
    )
    .await;
    assert_eq!(
        upstream.received()[2].header("authorization"),
        Some("Bearer agent-token")
    );

    // Headers named in Connection are hop-by-hop too (sent raw: clients rewrite Connection).
    let request = format!(
        "POST /agents/forward/name/agent-a/h HTTP/1.1\r\nHost: x\r\nConnection: close, x-drop-me\r\n\
         x-drop-me: 1\r\nx-agent-api-key: {key}\r\nContent-Length: 2\r\n\r\n{{}}"
    );
    let answer = raw_http(&app.address, request).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let got = upstream.received().pop().unwrap();
    assert_eq!(got.header("x-drop-me"), None);
    assert_eq!(got.body, "{}");
}

async fn agent_answer_comes_back_unchanged(backend: Backend) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    let key = agent_with_key(&app, "agent-a", &upstream).await;
    let auth = [("x-agent-api-key", key.as_str())];
    for code in [201u16, 204, 404, 418, 500, 503] {
        let reply = app
            .forward(
                Method::POST,
                "agent-a",
                &format!("status/{code}"),
                &auth,
                "",
            )
            .await;
        assert_eq!(reply.status.as_u16(), code);
        assert_eq!(reply.header("x-upstream"), Some("status"));
        assert_eq!(
            reply.header("keep-alive"),
            None,
            "hop-by-hop answer headers are dropped"
        );
        if code != 204 {
            assert_eq!(reply.text(), format!("status {code}"));
        }
    }
    // Redirects go back to the caller; hookgate does not follow them.
    let redirect = app
        .forward(Method::GET, "agent-a", "redirect", &auth, "")
        .await;
    assert_eq!(redirect.status.as_u16(), 302);
    assert_eq!(redirect.header("location"), Some("/elsewhere"));
    assert_eq!(
        upstream.received().len(),
        7,
        "the redirect target was not fetched"
    );
}

async fn methods_paths_and_query_strings_are_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    let key = agent_with_key(&app, "agent-a", &upstream).await;
    let auth = [("x-agent-api-key", key.as_str())];
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    for method in methods.iter() {
        let reply = app
            .forward(
                method.clone(),
                "agent-a",
                "a/b/c?x=1&y=two%20words&x=3",
                &auth,
                "body",
            )
            .await;
        assert_eq!(reply.status, 200, "{method}: {}", reply.text());
        assert_eq!(reply.json()["method"], method.as_str());
    }
    let got = upstream.received();
    for (req, method) in got.iter().zip(methods.iter()) {
        assert_eq!(&req.method, method);
        assert_eq!(req.uri, "/a/b/c?x=1&y=two%20words&x=3");
    }
    app.forward(Method::GET, "agent-a", "files/a%3Fb%20c", &auth, "")
        .await;
    assert_eq!(
        upstream.received()[5].uri,
        "/files/a%3Fb%20c",
        "what must stay encoded arrives encoded"
    );
    // An encoded '/' is a separator the agent may split on and routing here
    // did not (issue 26): refused, not passed on.
    let slash = app
        .forward(Method::GET, "agent-a", "files/a%2Fb", &auth, "")
        .await;
    assert_eq!(slash.status, 400, "{}", slash.text());
    assert_eq!(upstream.received().len(), 6);
    app.forward(Method::GET, "agent-a", "", &auth, "").await;
    assert_eq!(upstream.received()[6].uri, "/");
    let head = app.forward(Method::HEAD, "agent-a", "x", &auth, "").await;
    assert_eq!(
        head.status.as_u16(),
        405,
        "only GET, POST, PUT, PATCH and DELETE are forwarded"
    );
    assert_eq!(head.header("allow"), Some("GET, POST, PUT, PATCH, DELETE"));
    let bare = app
        .send(
            Method::POST,
            &app.url("/agents/forward/name/agent-a"),
            &auth,
            Bytes::from_static(b"x"),
        )
        .await;
    assert_eq!(bare.status, 200, "no sub-path at all: {}", bare.text());
    assert_eq!(
        upstream.received().last().map(|r| r.uri.clone()),
        Some("/".into())
    );
    let nameless = app.forward(Method::POST, "", "x", &auth, "body").await;
    assert_eq!(nameless.status, 404, "{}", nameless.text());
    assert_eq!(
        nameless.json()["detail"],
        "Agent  not found or has no ACP URL."
    );
    assert_eq!(
        upstream.received().len(),
        8,
        "nothing else reached the agent"
    );
}

async fn binary_and_large_bodies_arrive_byte_for_byte(backend: Backend) {
    let app = spawn_app(backend).await;
    let upstream = Upstream::start().await;
    let key = agent_with_key(&app, "agent-a", &upstream).await;
    let auth = [
        ("x-agent-api-key", key.as_str()),
        ("content-type", "application/octet-stream"),
    ];
    let binary: Bytes = (0..=255u8).cycle().take(70_000).collect::<Vec<_>>().into();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let large: Bytes = (0..5 * 1024 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect::<Vec<_>>()
        .into();
    for body in [binary, large] {
        let reply = app
            .forward(Method::POST, "agent-a", "echo", &auth, body.clone())
            .await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body.len(), body.len());
        assert!(reply.body == body, "the agent's answer came back unchanged");
        let got = upstream.received().pop().unwrap();
        assert!(got.body == body, "the agent got the exact bytes");
    }
}

async fn unreachable_slow_and_oversized_calls_fail_cleanly(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.forward_timeout = std::time::Duration::from_secs(1);
        s.max_body_bytes = 1024;
    })
    .await;
    let upstream = Upstream::start().await;
    let key = agent_with_key(&app, "agent-a", &upstream).await;
    let auth = [("x-agent-api-key", key.as_str())];

    let slow = app.forward(Method::GET, "agent-a", "slow", &auth, "").await;
    assert_eq!(slow.status.as_u16(), 504);
    assert!(slow.json()["detail"].as_str().unwrap().contains("agent-a"));

    let too_big = app
        .forward(Method::POST, "agent-a", "x", &auth, vec![b'a'; 1025])
        .await;
    assert_eq!(too_big.status.as_u16(), 413);
    assert!(too_big.json()["detail"].as_str().unwrap().contains("1024"));
    // 413 comes before any lookup: even an unknown agent gets it.
    let unknown = app
        .forward(Method::POST, "ghost", "x", &[], vec![b'a'; 4096])
        .await;
    assert_eq!(unknown.status.as_u16(), 413);
    let at_limit = app
        .forward(Method::POST, "agent-a", "x", &auth, vec![b'a'; 1024])
        .await;
    assert_eq!(at_limit.status, 200);

    app.register("agent-a", &closed_port_url()).await;
    let down = app.forward(Method::GET, "agent-a", "x", &auth, "").await;
    assert_eq!(down.status.as_u16(), 502);
    assert!(down.json()["detail"].as_str().unwrap().contains("agent-a"));
    assert_eq!(
        upstream.received().len(),
        2,
        "the slow call and the one at the limit"
    );
}

async fn re_registration_with_a_new_url_moves_the_traffic(backend: Backend) {
    let app = spawn_app(backend).await;
    let (old, new) = (Upstream::start().await, Upstream::start().await);
    let key = agent_with_key(&app, "agent-a", &old).await;
    let auth = [("x-agent-api-key", key.as_str())];
    // Several calls so every HTTP worker has made its forwarder.
    for _ in 0..4 {
        assert_eq!(
            app.forward(Method::GET, "agent-a", "x", &auth, "")
                .await
                .status,
            200
        );
    }
    app.register("agent-a", &format!("{}/", new.url)).await;
    for _ in 0..4 {
        assert_eq!(
            app.forward(Method::GET, "agent-a", "y", &auth, "")
                .await
                .status,
            200
        );
    }
    assert_eq!(old.received().len(), 4);
    let moved = new.received();
    assert_eq!(moved.len(), 4);
    assert!(
        moved.iter().all(|r| r.uri == "/y"),
        "trailing slash of acp_url is not doubled"
    );
}
