#![no_main]
// See src/fuzzing/control.rs for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| clawvisor::fuzzing::control::check(data));
