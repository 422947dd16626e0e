//! The io_uring engine (being written).
use super::{Engine, EngineOptions};
use crate::progress::Progress;
use crate::tree::Item;
use crossbeam_channel::Receiver;
use std::sync::Arc;

pub struct Uring {}

impl Uring {
    pub fn new(_opts: EngineOptions) -> Result<Self, String> {
        Err("not built yet".into())
    }
}

impl Engine for Uring {
    fn name(&self) -> &'static str {
        "io_uring"
    }
    fn run(&mut self, _items: Receiver<Item>, _progress: &Arc<dyn Progress>) {}
}

/// Whether io_uring works here, for --version.
pub fn availability() -> Result<(), String> {
    Err("not built yet".into())
}
