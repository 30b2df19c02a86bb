//! Storage adapters: implementations of the storage port (`crate::ports`). The embedded sled
//! store (the default) lives in its own folder; the record codec and the index-key layout it
//! writes are here, engine-neutral byte formats another key-value backend could reuse.
//! `contract` is the behaviour every backend must show, as a reusable test suite.

pub mod codec;
pub mod contract;
pub mod keys;
pub mod sled;
