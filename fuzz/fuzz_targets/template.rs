#![no_main]
//! `task_key` / `text_template`: parsing what an admin writes, and
//! rendering it against a request (JSON or form body, headers, path) as
//! any provider describes it (`{conversation}`, `{actor.…}`).

use arbitrary::Arbitrary;
use hookgate::domain::payload::body_as_json;
use hookgate::domain::{Template, TemplateInput};
use hookgate::verify::described::Described;
use hookgate::verify::providers::PROVIDERS;
use hookgate_fuzz::headers;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Call<'a> {
    template: &'a str,
    body: &'a [u8],
    form: bool,
    event: &'a [u8],
    path: &'a str,
    provider: u8,
}

fuzz_target!(|call: Call<'_>| {
    let Ok(template) = Template::parse("task_key", call.template) else {
        return;
    };
    let body = body_as_json(call.body, call.form);
    let map = headers(&[("x-github-event", call.event)]);
    let source = Described(PROVIDERS[usize::from(call.provider) % PROVIDERS.len()]);
    let input = TemplateInput {
        body: body.as_ref(),
        headers: &map,
        path: call.path,
        source: Some(&source),
    };
    let _ = template.render(&input);
});
