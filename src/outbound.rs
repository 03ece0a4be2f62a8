//! The Outbound port: a plain request value that a target builds and the shell sends with
//! `Fetch`, and a scripted client for native tests. Building never sends.

use std::cell::RefCell;

/// Every outbound request is abandoned after this long, so that a hung target cannot hold a
/// webhook past its provider's own timeout (GitHub waits 10 s).
pub const OUTBOUND_TIMEOUT_MS: u32 = 9_000;
use std::collections::VecDeque;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl OutboundRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl OutboundResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Sends a request. `Err` means no HTTP answer came back at all; its text must not hold secrets.
#[allow(async_fn_in_trait)]
pub trait Outbound {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, String>;
}

/// Records every request and answers from a script (default: 200 `{}`), for native tests.
#[derive(Default)]
pub struct ScriptedOutbound {
    pub sent: RefCell<Vec<OutboundRequest>>,
    script: RefCell<VecDeque<Result<OutboundResponse, String>>>,
}

impl ScriptedOutbound {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn answer(&self, status: u16, body: &str) {
        let headers = vec![("content-type".to_string(), "application/json".to_string())];
        self.script.borrow_mut().push_back(Ok(OutboundResponse { status, headers, body: body.into() }));
    }

    pub fn fail(&self, reason: &str) {
        self.script.borrow_mut().push_back(Err(reason.to_string()));
    }

    pub fn last(&self) -> Option<OutboundRequest> {
        self.sent.borrow().last().cloned()
    }
}

impl Outbound for ScriptedOutbound {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, String> {
        self.sent.borrow_mut().push(request);
        self.script
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| Ok(OutboundResponse { status: 200, headers: Vec::new(), body: b"{}".to_vec() }))
    }
}
