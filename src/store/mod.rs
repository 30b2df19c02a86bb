//! Storage adapters: implementations of the storage port (`crate::ports`). The embedded sled
//! store (the default) and the PostgreSQL store (several instances) live in their own folders; the record codec and the index-key layout it
//! writes are here, engine-neutral byte formats another key-value backend could reuse.
//! `contract` is the behaviour every backend must show, as a reusable test suite.

pub mod codec;
pub mod contract;
pub mod copy;
pub mod keys;
pub mod postgres;
pub mod report;
pub mod sled;
