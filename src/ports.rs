//! The clock and the source of randomness, as ports. The shell supplies the real ones;
//! native tests supply these deterministic ones. Also a tiny executor for native tests,
//! since the in-memory ports never wait.

use std::cell::Cell;

pub trait Clock {
    fn now_ms(&self) -> u64;
}

pub trait Random {
    /// Fills `buf` with cryptographically secure random bytes (in production).
    fn fill(&self, buf: &mut [u8]);
}

/// A clock that stands still until told to move.
pub struct FixedClock(Cell<u64>);

impl FixedClock {
    pub fn new(now_ms: u64) -> Self {
        FixedClock(Cell::new(now_ms))
    }

    pub fn advance(&self, ms: u64) {
        self.0.set(self.0.get() + ms);
    }
}

impl Clock for FixedClock {
    fn now_ms(&self) -> u64 {
        self.0.get()
    }
}

impl<T: Clock + ?Sized> Clock for std::rc::Rc<T> {
    fn now_ms(&self) -> u64 {
        (**self).now_ms()
    }
}

/// Deterministic bytes (SplitMix64) for tests. Never for production.
pub struct SequenceRandom(Cell<u64>);

impl SequenceRandom {
    pub fn new(seed: u64) -> Self {
        SequenceRandom(Cell::new(seed))
    }
}

impl Random for SequenceRandom {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let mut z = self.0.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
            self.0.set(z);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

/// Runs a future that never waits on I/O (the in-memory ports) to completion.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}
