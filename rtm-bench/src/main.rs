//! `rtm-bench`: RTM's server beside the stacks users would pick instead, ratios taken in one
//! run. See the README's "Benchmarks" section and BENCHMARKS.md.

#![allow(dead_code)] // the skeleton: removed once the scenarios are wired

mod baseline_client;
mod baselines;
mod core_scenario;
mod process;
mod report;

fn main() {
    println!("rtm-bench: scenarios not wired yet");
}
