//! Layer 1: samplers of the gateway's process tree memory, the GPU and the disk, and what
//! they share with the probes (readings, the startup gate, verdicts to the brain).
//! `runtime::Watchers` starts them all.

pub mod disk;
pub mod gpu;
pub mod gpu_fake;
pub mod gpu_nvml;
pub mod gpu_open;
pub mod gpu_reader;
pub mod gpu_source;
pub mod gpu_task;
pub mod held_threshold;
pub mod memory;
pub mod readings;
pub mod samplers;
pub mod shared;
pub mod startup_gate;
pub mod tree_sample;
mod verdict;
pub mod wait_idle;

pub use verdict::Verdict;
