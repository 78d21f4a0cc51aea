//! What every signing provider's tests check (issue 12), written once: a
//! delivery signed as the provider signs it is forwarded unchanged; one
//! signed with another secret, one whose body was altered and one without
//! the provider's signature are each refused with the contract's words and
//! reach nobody. Each provider's own test adds what only it has (stale
//! timestamps, its own headers).

use crate::helpers::*;
use actix_web::http::Method;

/// Headers a provider's library puts on a delivery of a body, given a secret.
pub type Sign<'a> = &'a dyn Fn(&str, &str) -> Vec<(String, String)>;

/// One provider's case.
pub struct SignedProvider<'a> {
    /// Its key type (`api_key_type`).
    pub kind: &'a str,
    /// The key value stored (the secret, or the public key).
    pub stored: &'a str,
    /// What [`Self::sign`] signs with: the secret, or the private key.
    pub signing: &'a str,
    /// What it signs with when the key is wrong.
    pub wrong_signing: &'a str,
    pub sign: Sign<'a>,
    /// Headers every call of the provider carries besides its signature
    /// (a content type).
    pub extra: &'a [(&'a str, &'a str)],
    pub body: &'a str,
    /// The body after an attacker changed it.
    pub altered: &'a str,
    /// The refusal without a key, `{agent}` for the agent's id.
    pub no_key: &'a str,
    pub bad_signature: &'a str,
}

impl SignedProvider<'_> {
    /// Runs every check against `app`, whose `agent-a` forwards to
    /// `upstream`; returns what the agent received for the signed call.
    pub async fn check(&self, app: &TestApp, upstream: &Upstream) -> Received {
        let agent = app.get("/agents/name/agent-a").await.json();
        let no_key = self
            .no_key
            .replace("{agent}", agent["id"].as_str().unwrap());
        let signed = (self.sign)(self.signing, self.body);
        self.refused(app, &signed, self.body, 404, &no_key).await;

        app.create_key("agent-a", "provider-key", self.kind, Some(self.stored))
            .await;
        let before = upstream.received().len();
        let reply = app
            .forward(
                Method::POST,
                "agent-a",
                "hook",
                &self.headers(&signed),
                self.body.to_owned(),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let received = upstream.received();
        assert_eq!(received.len(), before + 1);
        let delivered = received.last().unwrap().clone();
        assert_eq!(delivered.body, self.body.as_bytes());

        let wrong = (self.sign)(self.wrong_signing, self.body);
        self.refused(app, &wrong, self.body, 401, self.bad_signature)
            .await;
        self.refused(app, &signed, self.altered, 401, self.bad_signature)
            .await;
        let missing = "Missing authentication for forward request.";
        self.refused(app, &[], self.body, 403, missing).await;
        assert_eq!(
            upstream.received().len(),
            before + 1,
            "no refused call reached the agent"
        );
        delivered
    }

    fn headers<'a>(&'a self, signed: &'a [(String, String)]) -> Vec<(&'a str, &'a str)> {
        crate::vectors::with(signed, self.extra)
    }

    async fn refused(
        &self,
        app: &TestApp,
        signed: &[(String, String)],
        body: &str,
        status: u16,
        detail: &str,
    ) {
        refused(app, &self.headers(signed), body, status, detail).await;
    }
}
