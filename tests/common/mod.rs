//! Helpers the native integration tests share.
#![allow(dead_code)]

use hookrelay::model::{ProviderSource, Secret};

/// A real provider payload from `tests/fixtures/` (copied unchanged from shared/fixtures).
pub fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// A hook source of `kind` with these secrets and no generic-HMAC settings.
pub fn source(kind: &str, secrets: &[&str]) -> ProviderSource {
    ProviderSource {
        kind: kind.into(),
        secrets: secrets.iter().map(|s| Secret::new(*s)).collect(),
        ..Default::default()
    }
}

thread_local! {
    /// The delivery queue of this test's app (each test runs on its own thread).
    static QUEUE: std::rc::Rc<hookrelay::ports::MemoryQueue> = Default::default();
}

/// This test's in-memory delivery queue, for `App::queue`.
pub fn queue() -> std::rc::Rc<hookrelay::ports::MemoryQueue> {
    QUEUE.with(std::rc::Rc::clone)
}

/// Consumes the deliveries queue as the platform would (retries included, with no wait) until it
/// is empty. Returns how many messages were consumed.
pub fn drain(app: &hookrelay::context::App) -> usize {
    let mut consumed = 0;
    for _round in 0..100 {
        let messages = queue().take(hookrelay::ports::Lane::Deliveries);
        if messages.is_empty() {
            return consumed;
        }
        // The platform hands a message over once its delay has passed (a test clock moves; others
        // ignore it).
        let longest = messages.iter().map(|message| message.delay_seconds).max().unwrap_or(0);
        app.clock.advance(u64::from(longest) * 1000);
        for message in messages {
            let settled = hookrelay::ports::block_on(hookrelay::relay::consume(app, &message.body, message.handover));
            if let hookrelay::relay::Settlement::Retry { delay_seconds } = settled {
                queue().redeliver(message, delay_seconds);
            }
            consumed += 1;
        }
    }
    panic!("the queue never emptied");
}
