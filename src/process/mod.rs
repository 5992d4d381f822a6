//! Process operations: spawn, signals, the reaper, the tree under the gateway.

pub mod tree;
