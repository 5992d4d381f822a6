//! Layer 1: samplers of the gateway's process tree memory, the GPU and the disk; and
//! [`Watchers`], which starts every watcher and probe for the runner.

pub mod disk;
pub mod gpu;
pub mod gpu_fake;
pub mod gpu_nvml;
mod gpu_open;
pub mod gpu_reader;
pub mod gpu_source;
pub mod gpu_task;
pub mod held_threshold;
pub mod memory;
pub mod readings;
pub mod samplers;
pub mod shared;
pub mod tree_sample;
mod verdict;
pub mod wait_idle;
mod watchers;

pub use verdict::Verdict;
pub use watchers::Watchers;
