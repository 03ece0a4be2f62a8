//! Vendor-compatible APIs: thin translations of their routes and shapes onto the one model.
//! Each module parses the vendor's request into model values, calls the catalog or the firing
//! path, and shapes the answer as the vendor would. No logic of their own, no `worker` import.

pub mod ack;
pub mod gitlab;
pub mod servicestage;
pub mod swr;
