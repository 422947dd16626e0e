//! What both io_uring engines share: setting a ring up (and finding out
//! whether io_uring can be used here at all), entering it, and the
//! registered buffer pool. The engines own their submission and completion
//! logic; they depend on this module, never on each other.

pub mod bufpool;
pub mod setup;

pub use setup::availability;
