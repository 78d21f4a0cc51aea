//! What a delivery row holds besides its columns' plain values, in one
//! place: the request's headers as stored ([`headers`]: written at intake,
//! read by attempts) and an `acp_event`'s content ([`content`]: `data` or
//! `text`, with its provenance, built once at intake and sent as stored;
//! a coalesced batch gathers stored contents), and the closed sets its
//! text columns hold ([`status`]).

pub mod content;
pub mod headers;
pub mod status;
