//! What both io_uring engines share: setting a ring up (and finding out
//! whether io_uring can be used here at all), entering it, the registered
//! buffer pool, and the generation-tagged table of operations in flight
//! (`ops.rs`). The engines own their submission and completion
//! logic; they depend on this module, never on each other.

pub mod bufpool;
pub mod ops;
pub mod setup;
pub mod sys;

pub use setup::availability;
