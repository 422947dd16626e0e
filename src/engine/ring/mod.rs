//! What both io_uring engines share: setting a ring up (and finding out
//! whether io_uring can be used here at all), entering it, the registered
//! buffer pool, the generation-tagged table of operations in flight
//! (`ops.rs`), and [`Ring`] (`driver.rs`), which owns a ring with both and
//! holds its one `unsafe` submission. The engines own their submission and completion
//! logic; they depend on this module, never on each other.

pub mod bufpool;
mod driver;
pub mod ops;
pub mod setup;
pub mod sys;

pub use driver::Ring;
pub use setup::availability;
